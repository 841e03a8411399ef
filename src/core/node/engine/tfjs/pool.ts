// The tfjs engine as a data-parallel pool (../pool.ts): worker threads, each with its own tfjs
// backend (wasm has no threads under Node, so this is where parallelism comes from). With
// `workers: 0` one engine runs in this thread, through the same host.
import os from 'node:os';
import type { BackendName } from '../../../common/api.ts';
import { DataParallelPool, localWorker, threadWorker } from '../pool.ts';
import { WORKER_ENTRIES, workerScript } from '../worker-script.ts';
import { openTfjsEngine } from './engine.ts';

export interface PoolOptions {
  /** Worker threads; 0 runs one engine in this thread. Default: one per core, at most 8. */
  workers?: number;
  backend?: BackendName | null;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(8, os.availableParallelism()));
}

export class TfjsPool extends DataParallelPool<BackendName | null> {
  private constructor(workers: number, backend: BackendName | null) {
    super(
      workers > 0
        ? Array.from({ length: workers }, () =>
            threadWorker<BackendName | null>(
              workerScript(new URL('./worker.ts', import.meta.url), WORKER_ENTRIES.tfjs, import.meta.url),
              'engine worker',
            ),
          )
        : [localWorker(openTfjsEngine)],
      backend,
      null,
    );
  }

  /** A pool whose backends have started: its report says which one. */
  static async create(opts: PoolOptions = {}): Promise<TfjsPool> {
    const pool = new TfjsPool(opts.workers ?? defaultWorkerCount(), opts.backend ?? null);
    try {
      await pool.ready();
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }
}
