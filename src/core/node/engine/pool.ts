// The engine pool: data-parallel inference and synchronous data-parallel training over
// worker threads, each with its own tfjs backend (wasm has no threads under Node, so this
// is where parallelism comes from). With `workers: 0` the same code runs in this thread.
//
// The pool owns the authoritative weights in a SharedArrayBuffer; engines copy them in
// when the version changes. Each engine writes its gradients into its own shared buffer;
// the pool averages them weighted by sub-batch size.
import os from 'node:os';
import type { BackendName, BackendReport } from '../../common/api.ts';
import type { ModelArtifacts, Preprocess } from '../models/io.ts';
import type { WeightLayout } from './engine-core.ts';
import { batchShares, combineShares, predictInChunks, sharedBuffers } from './data-parallel.ts';
import type { Augment } from './preprocess.ts';
import { EngineHost, type Reply, type Request } from './protocol.ts';
import type { BatchResult, TrainingEngine } from './training-engine.ts';
import { WORKER_ENTRIES, workerScript } from './worker-script.ts';
import { WorkerThread } from './worker-thread.ts';

export type { BatchResult } from './training-engine.ts';

interface Engine {
  call(req: Request, transfer?: ArrayBuffer[]): Promise<Reply>;
  terminate(): Promise<void>;
}

/** An engine in a worker thread of its own (./worker.ts). */
function threadEngine(): Engine {
  return new WorkerThread<Request, Reply>(
    workerScript(new URL('./worker.ts', import.meta.url), WORKER_ENTRIES.tfjs, import.meta.url),
    'engine worker',
  );
}

class LocalEngine implements Engine {
  private readonly host = new EngineHost();
  call(req: Request): Promise<Reply> {
    return this.host.handle(req);
  }
  async terminate(): Promise<void> {
    this.host.core.dispose();
  }
}

export interface PoolOptions {
  /** Worker threads; 0 runs one engine in this thread. Default: one per core, at most 8. */
  workers?: number;
  backend?: BackendName | null;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(8, os.availableParallelism()));
}

export class EnginePool implements TrainingEngine {
  private engines: Engine[] = [];
  private gradViews: Float32Array[] = [];
  /** The authoritative weights, flat in model.weights order. Call weightsChanged() after writing. */
  weights: Float32Array<ArrayBufferLike> = new Float32Array(0);
  /** Averaged gradients of the last step (non-trainable slots hold averaged values). */
  grads: Float32Array<ArrayBufferLike> = new Float32Array(0);
  layout: WeightLayout | null = null;
  report: BackendReport | null = null;
  /** Forward passes run on tfjs here; evaluation prefers the onnxruntime inference engine. */
  readonly inference = null;
  private version = 0;
  readonly threaded: boolean;

  private constructor(threaded: boolean) {
    this.threaded = threaded;
  }

  static async create(opts: PoolOptions = {}): Promise<EnginePool> {
    const n = opts.workers ?? defaultWorkerCount();
    const pool = new EnginePool(n > 0);
    pool.engines = n > 0 ? Array.from({ length: n }, () => threadEngine()) : [new LocalEngine()];
    try {
      const replies = await Promise.all(
        pool.engines.map((e) => e.call({ op: 'init', backend: opts.backend ?? null })),
      );
      pool.report = (replies[0] as Extract<Reply, { op: 'init' }>).report;
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.engines.length;
  }

  /** Loads a model into every engine; its weights become the pool's weights. */
  async load(artifacts: ModelArtifacts, pre: Preprocess): Promise<WeightLayout> {
    const b = sharedBuffers(artifacts.weightData, this.engines.length);
    this.weights = b.weights;
    this.grads = b.grads;
    this.gradViews = b.gradViews;
    const replies = await Promise.all(
      this.engines.map((e, k) =>
        e.call({ op: 'load', artifacts, pre, weights: b.weightsBuffer, grads: b.gradBuffers[k]! }),
      ),
    );
    this.layout = (replies[0] as Extract<Reply, { op: 'load' }>).layout;
    if (this.layout.total !== this.weights.length)
      throw new Error(`weight layout (${this.layout.total}) does not match weights (${this.weights.length})`);
    this.weightsChanged();
    return this.layout;
  }

  weightsChanged(): void {
    this.version++;
  }

  /**
   * One synchronous data-parallel step: splits the batch across engines, each computes the
   * gradient of its mean loss, and the pool averages them into `grads`.
   */
  async gradients(
    images: Uint8Array,
    labels: Int32Array,
    count: number,
    aug: Augment | null,
    imageBytes: number,
  ): Promise<BatchResult> {
    const { parts, copies } = batchShares(images, labels, count, aug, imageBytes, this.engines.length);
    const replies = (await Promise.all(
      copies.map((share, k) => this.engines[k]!.call({ op: 'grad', version: this.version, ...share })),
    )) as Extract<Reply, { op: 'grad' }>[];
    return combineShares(
      this.grads,
      this.gradViews,
      parts,
      replies.map((r) => r.step),
    );
  }

  /** Class probabilities for many images, spread over the engines in chunks. */
  async predict(
    images: Uint8Array,
    count: number,
    imageBytes: number,
    classes: number,
    chunk = 256,
  ): Promise<Float32Array> {
    return predictInChunks(this.engines, images, count, imageBytes, classes, chunk, async (e, part, n) => {
      const r = (await e.call({ op: 'predict', version: this.version, images: part, count: n })) as Extract<
        Reply,
        { op: 'predict' }
      >;
      return r.probs;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.terminate()));
    this.engines = [];
  }
}
