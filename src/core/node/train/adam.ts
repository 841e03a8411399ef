// Adam (Kingma & Ba 2015) over flat Float32Arrays, in the thread that owns the weights.
// Keeping the optimizer here, not inside tfjs, makes its state part of every checkpoint,
// so a resumed run continues exactly where the killed one stopped.
import type { BatchResult, TrainingEngine, WeightLayout } from '../engine/training-engine.ts';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_ADAM: AdamConfig = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

export class Adam {
  readonly cfg: AdamConfig;
  m: Float32Array;
  v: Float32Array;
  t = 0;

  constructor(size: number, cfg: AdamConfig = DEFAULT_ADAM) {
    this.cfg = cfg;
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /**
   * Updates `weights` in place for the slots where `trainable` holds; other slots (batch
   * norm's moving statistics) take the value carried in `grads`.
   */
  step(
    weights: Float32Array,
    grads: Float32Array,
    ranges: { offset: number; size: number; trainable: boolean }[],
  ): void {
    this.t++;
    const { learningRate, beta1, beta2, epsilon } = this.cfg;
    const lr = (learningRate * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    const { m, v } = this;
    for (const r of ranges) {
      const end = r.offset + r.size;
      if (!r.trainable) {
        weights.set(grads.subarray(r.offset, end), r.offset);
        continue;
      }
      for (let i = r.offset; i < end; i++) {
        const g = grads[i]!;
        const mi = (m[i] = beta1 * m[i]! + (1 - beta1) * g);
        const vi = (v[i] = beta2 * v[i]! + (1 - beta2) * g * g);
        weights[i] = weights[i]! - (lr * mi) / (Math.sqrt(vi) + epsilon);
      }
    }
  }

  /** m, v and t as one buffer for a checkpoint. */
  serialize(): Uint8Array {
    const out = new Float32Array(1 + this.m.length * 2);
    out[0] = this.t;
    out.set(this.m, 1);
    out.set(this.v, 1 + this.m.length);
    return new Uint8Array(out.buffer);
  }

  restore(bytes: Uint8Array): void {
    const f = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    if (f.length !== 1 + this.m.length * 2) throw new Error('optimizer state does not match the model');
    this.t = f[0]!;
    this.m.set(f.subarray(1, 1 + this.m.length));
    this.v.set(f.subarray(1 + this.m.length));
  }
}

/**
 * Adam over a training engine's flat weights: a step takes the engine's gradients of one
 * batch, updates its weights (each variable's slots, trainable or carried) and tells it so.
 */
export class EngineAdam {
  readonly adam: Adam;
  private readonly engine: TrainingEngine;
  private readonly ranges: { offset: number; size: number; trainable: boolean }[];

  constructor(engine: TrainingEngine, layout: WeightLayout, cfg: AdamConfig = DEFAULT_ADAM) {
    this.engine = engine;
    this.adam = new Adam(layout.total, cfg);
    this.ranges = layout.offsets.map((offset, i) => ({
      offset,
      size: layout.sizes[i]!,
      trainable: layout.trainable[i]!,
    }));
  }

  /** One step on a batch: what `TrainingEngine.gradients` takes. */
  async step(...batch: Parameters<TrainingEngine['gradients']>): Promise<BatchResult> {
    const r = await this.engine.gradients(...batch);
    this.adam.step(this.engine.weights, this.engine.grads, this.ranges);
    this.engine.weightsChanged();
    return r;
  }
}
