// Worker-thread entry of the tfjs pool: one tfjs engine per thread.
import { servePool } from '../pool-host.ts';
import { openTfjsEngine } from './engine.ts';

servePool(openTfjsEngine);
