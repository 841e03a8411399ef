// A pool worker's side of the data-parallel pool (pool.ts), the same for every engine: the
// messages between the pool and its workers, and the host that answers them around one
// training engine. It reads the pool's shared weights, writes its share's gradients into its
// own shared buffer, and sums its slice of every worker's gradients into the whole batch's.
// A worker thread (tfjs/worker.ts, onnx-train/worker.ts) and a pool's in-thread worker run
// this same code, so "with threads" and "without" compute alike.
import type { BackendReport } from '../../common/api.ts';
import type { ModelArtifacts, Preprocess } from '../models/io.ts';
import { combineRange } from './data-parallel.ts';
import type { Augment, DeviceChoice, TrainingEngine, WeightLayout } from './training-engine.ts';
import { serveRequests } from './worker-thread.ts';

export type PoolRequest<Start> =
  /** Opens the worker's engine (`Start`: what its kind of engine needs). */
  | { op: 'start'; start: Start }
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
    }
  | {
      op: 'grad';
      /** The pool's weights version: the engine takes the shared weights again when it changed. */
      version: number;
      images: Uint8Array;
      labels: Int32Array;
      count: number;
      aug: Augment | null;
      imageBytes: number;
    }
  | { op: 'combine'; shareWeights: number[]; a: number; b: number }
  | {
      op: 'predict';
      version: number;
      images: Uint8Array;
      count: number;
      imageBytes: number;
      classes: number;
      chunk: number;
    }
  | { op: 'close' };

export type PoolReply =
  | { op: 'start'; report: BackendReport | null }
  | { op: 'load'; layout: WeightLayout; device: DeviceChoice | null }
  | { op: 'grad'; loss: number; correct: number }
  | { op: 'combine' }
  | { op: 'predict'; probs: Float32Array }
  | { op: 'close' };

/** One worker's engine (opened by `open` at 'start') and its views of the pool's buffers. */
export class PoolHost<Start> {
  private engine: TrainingEngine | null = null;
  private shareGrads: Float32Array[] = [];
  private combined: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private version = -1;
  private readonly open: (start: Start) => Promise<TrainingEngine>;

  constructor(open: (start: Start) => Promise<TrainingEngine>) {
    this.open = open;
  }

  private get e(): TrainingEngine {
    if (!this.engine) throw new Error('pool worker: no engine started');
    return this.engine;
  }

  /** Tells the engine that the shared weights changed when the pool's version moved on. */
  private sync(version: number): void {
    if (version === this.version) return;
    this.e.weightsChanged();
    this.version = version;
  }

  async handle(req: PoolRequest<Start>): Promise<PoolReply> {
    switch (req.op) {
      case 'start':
        this.engine ??= await this.open(req.start);
        return { op: 'start', report: this.engine.report };
      case 'load': {
        const e = this.e;
        const layout = await e.load(req.artifacts, req.pre);
        e.weights = new Float32Array(req.weights);
        this.shareGrads = req.grads.map((b) => new Float32Array(b));
        e.grads = this.shareGrads[req.index]!;
        this.combined = new Float32Array(req.combined);
        this.version = -1;
        return { op: 'load', layout, device: e.device };
      }
      case 'grad': {
        this.sync(req.version);
        const r = await this.e.gradients(req.images, req.labels, req.count, req.aug, req.imageBytes);
        return { op: 'grad', loss: r.loss, correct: r.correct };
      }
      case 'combine':
        combineRange(this.combined, this.shareGrads, req.shareWeights, req.a, req.b);
        return { op: 'combine' };
      case 'predict':
        this.sync(req.version);
        return {
          op: 'predict',
          probs: await this.e.predict(req.images, req.count, req.imageBytes, req.classes, req.chunk),
        };
      case 'close':
        await this.engine?.close();
        this.engine = null;
        return { op: 'close' };
    }
  }
}

/** A worker thread's entry: one PoolHost answering the pool's requests until 'close'. */
export function servePool<Start>(open: (start: Start) => Promise<TrainingEngine>): void {
  const host = new PoolHost(open);
  serveRequests<PoolRequest<Start>, PoolReply>(
    (req) => host.handle(req),
    (reply) => (reply.op === 'predict' ? [reply.probs.buffer as ArrayBuffer] : []),
    (reply) => reply.op === 'close',
  );
}
