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
  private gradBufs: Float32Array[] = [];
  /** The authoritative weights, flat in model.weights order. Call weightsChanged() after writing. */
  weights: Float32Array<ArrayBufferLike> = new Float32Array(0);
  /** Averaged gradients of the last step (non-trainable slots hold averaged values). */
  grads = new Float32Array(0);
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
    const floats = artifacts.weightData.byteLength / 4;
    const wsab = new SharedArrayBuffer(floats * 4);
    this.weights = new Float32Array(wsab);
    this.weights.set(new Float32Array(artifacts.weightData.slice(0)));
    this.grads = new Float32Array(floats);
    this.gradBufs = [];
    const replies = await Promise.all(
      this.engines.map((e) => {
        const gsab = new SharedArrayBuffer(floats * 4);
        this.gradBufs.push(new Float32Array(gsab));
        return e.call({ op: 'load', artifacts, pre, weights: wsab, grads: gsab });
      }),
    );
    this.layout = (replies[0] as Extract<Reply, { op: 'load' }>).layout;
    if (this.layout.total !== floats)
      throw new Error(`weight layout (${this.layout.total}) does not match weights (${floats})`);
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
    const n = Math.min(this.engines.length, count);
    const per = Math.ceil(count / n);
    const jobs: Promise<Reply>[] = [];
    const counts: number[] = [];
    for (let w = 0; w < n; w++) {
      const a = w * per;
      const b = Math.min(count, a + per);
      if (b <= a) break;
      counts.push(b - a);
      const sub: Augment | null = aug
        ? { dx: aug.dx.slice(a, b), dy: aug.dy.slice(a, b), flip: aug.flip.slice(a, b) }
        : null;
      jobs.push(
        this.engines[w]!.call({
          op: 'grad',
          version: this.version,
          images: images.slice(a * imageBytes, b * imageBytes),
          labels: labels.slice(a, b),
          count: b - a,
          aug: sub,
        }),
      );
    }
    const replies = (await Promise.all(jobs)) as Extract<Reply, { op: 'grad' }>[];
    const g = this.grads;
    const first = this.gradBufs[0]!;
    const w0 = counts[0]! / count;
    for (let i = 0; i < g.length; i++) g[i] = first[i]! * w0;
    for (let k = 1; k < counts.length; k++) {
      const buf = this.gradBufs[k]!;
      const wk = counts[k]! / count;
      for (let i = 0; i < g.length; i++) g[i] += buf[i]! * wk;
    }
    let loss = 0;
    let correct = 0;
    replies.forEach((r, k) => {
      loss += r.step.loss * counts[k]!;
      correct += r.step.correct;
    });
    return { loss: loss / count, correct, count };
  }

  /** Class probabilities for many images, spread over the engines in chunks. */
  async predict(
    images: Uint8Array,
    count: number,
    imageBytes: number,
    classes: number,
    chunk = 256,
  ): Promise<Float32Array> {
    const out = new Float32Array(count * classes);
    let next = 0;
    const worker = async (e: Engine) => {
      while (next < count) {
        const a = next;
        const b = Math.min(count, a + chunk);
        next = b;
        const r = (await e.call({
          op: 'predict',
          version: this.version,
          images: images.slice(a * imageBytes, b * imageBytes),
          count: b - a,
        })) as Extract<Reply, { op: 'predict' }>;
        out.set(r.probs, a * classes);
      }
    };
    await Promise.all(this.engines.map(worker));
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.terminate()));
    this.engines = [];
  }
}
