// Worker-thread entry of the onnxruntime training pool: one single-threaded training engine
// per thread.
import { loadOrt } from '../../graph/ort.ts';
import { servePool } from '../pool-host.ts';
import { OnnxTrainEngine, type OnnxTrainOptions } from './engine.ts';

servePool(async (opts: OnnxTrainOptions) => new OnnxTrainEngine(await loadOrt(), opts));
