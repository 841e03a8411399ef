// Data-parallel onnxruntime training: the pool (../pool.ts) over worker threads, each with one
// single-threaded training session on its share of the batch. onnxruntime-node runs a
// session's runs on the calling thread, so two sessions in one thread never overlap, while a
// filter gradient's many small per-offset products and strided windows gain little from
// intra-op threads (measured); separate threads run whole steps side by side.
import { DataParallelPool, threadWorker } from '../pool.ts';
import { WORKER_ENTRIES, workerScript } from '../worker-script.ts';
import type { OnnxTrainOptions } from './engine.ts';

export class OnnxTrainPool extends DataParallelPool<OnnxTrainOptions> {
  /** `count` workers, each with `opts` (threads per worker: usually 1). */
  constructor(count: number, opts: OnnxTrainOptions) {
    super(
      Array.from({ length: count }, () =>
        threadWorker<OnnxTrainOptions>(
          workerScript(new URL('./worker.ts', import.meta.url), WORKER_ENTRIES.onnx, import.meta.url),
          'training worker',
        ),
      ),
      opts,
      'onnxruntime',
    );
  }
}
