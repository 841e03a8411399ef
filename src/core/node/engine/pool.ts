// The data-parallel pool both engines train on: synchronous data-parallel training and
// chunked prediction over workers that each run one engine (tfjs/, onnx-train/) on a share of
// every batch, in worker threads of their own or, for one worker, in this thread. The pool
// owns the authoritative weights in a SharedArrayBuffer that every worker reads. Each worker
// writes its share's gradients into a shared buffer of its own; the workers then sum the
// shares' gradients, weighted by share size, into the whole batch's, each a slice of the
// weights (on this thread that sum would grow with the number of workers).
import type { BackendReport } from '../../common/api.ts';
import type { ModelArtifacts, Preprocess } from '../models/io.ts';
import {
  batchResult,
  batchShares,
  predictInChunks,
  shareWeights,
  sharedBuffers,
  shares,
} from './data-parallel.ts';
import { PoolHost, type PoolReply, type PoolRequest } from './pool-host.ts';
import type { Augment, BatchResult, DeviceChoice, TrainingEngine, WeightLayout } from './training-engine.ts';
import { WorkerThread } from './worker-thread.ts';

/** One worker of a pool: an engine behind the pool's requests. */
export interface PoolWorker<Start> {
  call(req: PoolRequest<Start>): Promise<PoolReply>;
  terminate(): Promise<void>;
}

type Reply<Op extends PoolReply['op']> = Extract<PoolReply, { op: Op }>;

/** A worker in a thread of its own, running `script` (an entry that calls servePool). */
export function threadWorker<Start>(script: URL, what: string): PoolWorker<Start> {
  return new WorkerThread<PoolRequest<Start>, PoolReply>(script, what);
}

/** The one worker of a pool without threads: the same host, in this thread. */
export function localWorker<Start>(open: (start: Start) => Promise<TrainingEngine>): PoolWorker<Start> {
  const host = new PoolHost(open);
  return { call: (req) => host.handle(req), terminate: async () => undefined };
}

export class DataParallelPool<Start> implements TrainingEngine {
  /** The authoritative weights, flat in model.weights order. Call weightsChanged() after writing. */
  weights: Float32Array<ArrayBufferLike> = new Float32Array(0);
  /** The whole batch's gradients of the last step (non-trainable slots: their new values, averaged). */
  grads: Float32Array<ArrayBufferLike> = new Float32Array(0);
  layout: WeightLayout | null = null;
  report: BackendReport | null = null;
  device: DeviceChoice | null = null;
  readonly inference: 'onnxruntime' | null;
  private workers: PoolWorker<Start>[];
  private readonly start: Start;
  private started: Promise<void> | null = null;
  private version = 0;

  /** `workers` each open their engine with `start`; `inference` as the engines' own. */
  constructor(workers: PoolWorker<Start>[], start: Start, inference: 'onnxruntime' | null) {
    this.workers = workers;
    this.start = start;
    this.inference = inference;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Opens every worker's engine (once); the first one's report becomes the pool's. */
  ready(): Promise<void> {
    this.started ??= (async () => {
      const replies = await Promise.all(this.workers.map((w) => w.call({ op: 'start', start: this.start })));
      this.report = (replies[0] as Reply<'start'>).report;
    })();
    return this.started;
  }

  /** Loads a model into every worker; its weights become the pool's weights. */
  async load(artifacts: ModelArtifacts, pre: Preprocess): Promise<WeightLayout> {
    await this.ready();
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
        }),
      ),
    )) as Reply<'load'>[];
    this.layout = replies[0]!.layout;
    this.device = replies[0]!.device;
    if (this.layout.total !== this.weights.length)
      throw new Error(`weight layout (${this.layout.total}) does not match weights (${this.weights.length})`);
    this.weightsChanged();
    return this.layout;
  }

  weightsChanged(): void {
    this.version++;
  }

  /**
   * One synchronous data-parallel step: each worker computes the gradient of its share's mean
   * loss, then the workers sum them, weighted by share, into `grads`.
   */
  async gradients(
    images: Uint8Array,
    labels: Int32Array,
    count: number,
    aug: Augment | null,
    imageBytes: number,
  ): Promise<BatchResult> {
    const { parts, copies } = batchShares(images, labels, count, aug, imageBytes, this.workers.length);
    const replies = (await Promise.all(
      copies.map((share, k) =>
        this.workers[k]!.call({ op: 'grad', version: this.version, ...share, imageBytes }),
      ),
    )) as Reply<'grad'>[];
    // Gradients of the mean loss and the moving statistics' new values alike.
    const weights = shareWeights(parts);
    const slices = shares(this.grads.length, this.workers.length);
    await Promise.all(
      slices.map(({ a, b }, k) => this.workers[k]!.call({ op: 'combine', shareWeights: weights, a, b })),
    );
    return batchResult(parts, replies);
  }

  /** Class probabilities for many images, spread over the workers in chunks. */
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
        version: this.version,
        images: part,
        count: n,
        imageBytes,
        classes,
        chunk,
      })) as Reply<'predict'>;
      return r.probs;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call({ op: 'close' }).catch(() => undefined)));
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}
