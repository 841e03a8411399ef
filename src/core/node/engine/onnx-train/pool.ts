// Data-parallel onnxruntime training: worker threads, each with one single-threaded training
// session on its share of the batch, gradients averaged by share (as the tfjs pool does).
// onnxruntime-node runs a session's runs on the calling thread, so two sessions in one thread
// never overlap, while a filter gradient's many small per-offset products and strided windows
// gain little from intra-op threads (measured); separate threads run whole steps side by side. The
// workers also combine the shares' gradients, each a slice of the weights: on the main
// thread that sum grows with the number of workers.
import type { BackendReport } from '../../../common/api.ts';
import type { ModelArtifacts, Preprocess } from '../../models/io.ts';
import type { WeightLayout } from '../engine-core.ts';
import {
  batchResult,
  batchShares,
  predictInChunks,
  shareWeights,
  sharedBuffers,
  shares,
} from '../data-parallel.ts';
import type { Augment } from '../preprocess.ts';
import type { BatchResult, TrainingEngine } from '../training-engine.ts';
import type { DeviceChoice } from './device.ts';
import type { OnnxTrainOptions } from './engine.ts';
import { WORKER_ENTRIES, workerScript } from '../worker-script.ts';
import { WorkerThread } from '../worker-thread.ts';

export type PoolRequest =
  | {
      op: 'load';
      artifacts: ModelArtifacts;
      pre: Preprocess;
      weights: SharedArrayBuffer;
      /** Every worker's gradient buffer (this worker's is `grads[index]`). */
      grads: SharedArrayBuffer[];
      index: number;
      /** The whole batch's gradients, which the workers combine slice by slice. */
      combined: SharedArrayBuffer;
      opts: OnnxTrainOptions;
    }
  | { op: 'grad'; images: Uint8Array; labels: Int32Array; count: number; aug: Augment | null }
  | { op: 'combine'; shareWeights: number[]; a: number; b: number }
  | { op: 'predict'; images: Uint8Array; count: number; imageBytes: number; classes: number; chunk: number }
  | { op: 'close' };

export type PoolReply =
  | { op: 'load'; layout: WeightLayout; device: DeviceChoice }
  | { op: 'grad'; loss: number; correct: number }
  | { op: 'combine' }
  | { op: 'predict'; probs: Float32Array }
  | { op: 'close' };

/** A training engine in a worker thread of its own (./worker.ts). */
function trainWorker(): WorkerThread<PoolRequest, PoolReply> {
  return new WorkerThread<PoolRequest, PoolReply>(
    workerScript(new URL('./worker.ts', import.meta.url), WORKER_ENTRIES.onnx, import.meta.url),
    'training worker',
  );
}

export class OnnxTrainPool implements TrainingEngine {
  weights: Float32Array<ArrayBufferLike> = new Float32Array(0);
  grads: Float32Array<ArrayBufferLike> = new Float32Array(0);
  layout: WeightLayout | null = null;
  report: BackendReport | null = null;
  device: DeviceChoice | null = null;
  readonly inference = 'onnxruntime' as const;
  private workers: WorkerThread<PoolRequest, PoolReply>[];
  private readonly opts: OnnxTrainOptions;

  /** `count` workers, each with `opts` (threads per worker: usually 1). */
  constructor(count: number, opts: OnnxTrainOptions) {
    this.opts = opts;
    this.workers = Array.from({ length: count }, () => trainWorker());
  }

  get size(): number {
    return this.workers.length;
  }

  async load(artifacts: ModelArtifacts, pre: Preprocess): Promise<WeightLayout> {
    const b = sharedBuffers(artifacts.weightData, this.workers.length);
    this.weights = b.weights;
    this.grads = b.grads;
    const replies = (await Promise.all(
      this.workers.map((w, k) =>
        w.call({
          op: 'load',
          artifacts,
          pre,
          weights: b.weightsBuffer,
          grads: b.gradBuffers,
          index: k,
          combined: b.gradsBuffer,
          opts: this.opts,
        }),
      ),
    )) as Extract<PoolReply, { op: 'load' }>[];
    this.layout = replies[0]!.layout;
    this.device = replies[0]!.device;
    return this.layout;
  }

  /** The workers read the shared weights at every run. */
  weightsChanged(): void {}

  async gradients(
    images: Uint8Array,
    labels: Int32Array,
    count: number,
    aug: Augment | null,
    imageBytes: number,
  ): Promise<BatchResult> {
    const { parts, copies } = batchShares(images, labels, count, aug, imageBytes, this.workers.length);
    const replies = (await Promise.all(
      copies.map((share, k) => this.workers[k]!.call({ op: 'grad', ...share })),
    )) as Extract<PoolReply, { op: 'grad' }>[];
    // Weighted by share: gradients of the mean loss, and the moving statistics' new values;
    // each worker sums one slice of the weights over every share.
    const weights = shareWeights(parts);
    const slices = shares(this.grads.length, this.workers.length);
    await Promise.all(
      slices.map(({ a, b }, k) => this.workers[k]!.call({ op: 'combine', shareWeights: weights, a, b })),
    );
    return batchResult(parts, replies);
  }

  async predict(
    images: Uint8Array,
    count: number,
    imageBytes: number,
    classes: number,
    chunk = 256,
  ): Promise<Float32Array> {
    return predictInChunks(this.workers, images, count, imageBytes, classes, chunk, async (w, part, n) => {
      const r = (await w.call({
        op: 'predict',
        images: part,
        count: n,
        imageBytes,
        classes,
        chunk,
      })) as Extract<PoolReply, { op: 'predict' }>;
      return r.probs;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call({ op: 'close' }).catch(() => undefined)));
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}
