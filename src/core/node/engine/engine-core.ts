// One engine: a tfjs backend and a model, living in one thread. The worker pool runs one
// per worker thread; "no pool" runs one in the calling thread. Weights travel as one flat
// Float32Array in model.weights order (trainable and not), so any thread can hold the
// authoritative copy.
import * as tf from '@tensorflow/tfjs';
import type { BackendName, BackendReport } from '../../common/api.ts';
import { initBackend } from './backend.ts';
import { artifactsToModel, type ModelArtifacts, type Preprocess } from '../models/io.ts';
import { toInputs, type Augment } from './preprocess.ts';
import { augmentPart } from './data-parallel.ts';

export interface WeightLayout {
  names: string[];
  shapes: number[][];
  offsets: number[];
  sizes: number[];
  trainable: boolean[];
  total: number;
}

export function weightLayout(model: tf.LayersModel): WeightLayout {
  const l: WeightLayout = { names: [], shapes: [], offsets: [], sizes: [], trainable: [], total: 0 };
  for (const w of model.weights) {
    const shape = w.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    l.names.push(w.originalName);
    l.shapes.push(shape);
    l.offsets.push(l.total);
    l.sizes.push(size);
    l.trainable.push(w.trainable);
    l.total += size;
  }
  return l;
}

/** Activation memory one engine may hold for backprop; DECOMPOSER_ACTIVATION_MIB overrides. */
export function activationBudgetBytes(): number {
  const mib = Number(process.env.DECOMPOSER_ACTIVATION_MIB);
  return (Number.isFinite(mib) && mib > 0 ? mib : 320) * 1024 * 1024;
}

/**
 * Images per forward/backward pass so the tape's activations (every layer's output, about
 * twice over with the backward pass's temporaries) stay within the budget.
 */
export function microBatchFor(model: tf.LayersModel, budget = activationBudgetBytes()): number {
  let floats = 0;
  for (const layer of model.layers) {
    const shape = layer.outputShape as number[];
    floats += shape.slice(1).reduce((a, b) => a * b, 1);
  }
  return Math.max(1, Math.floor(budget / (floats * 4 * 2)));
}

export interface StepResult {
  loss: number;
  correct: number;
  count: number;
}

export class EngineCore {
  private model: tf.LayersModel | null = null;
  private layout: WeightLayout | null = null;
  private pre: Preprocess = { mean: 0, std: 1 };
  private size = 0;
  private buf: Float32Array = new Float32Array(0);
  private microBatch = 64;
  report: BackendReport | null = null;

  async init(backend: BackendName | null): Promise<BackendReport> {
    this.report = await initBackend(backend);
    return this.report;
  }

  async load(artifacts: ModelArtifacts, pre: Preprocess): Promise<WeightLayout> {
    this.model?.dispose();
    this.model = await artifactsToModel(artifacts);
    this.layout = weightLayout(this.model);
    this.pre = pre;
    this.size = this.model.inputs[0]!.shape[1]!;
    this.microBatch = microBatchFor(this.model);
    return this.layout;
  }

  private get m(): tf.LayersModel {
    if (!this.model) throw new Error('engine: no model loaded');
    return this.model;
  }

  setWeights(flat: Float32Array): void {
    const l = this.layout!;
    const ws = this.m.weights;
    tf.tidy(() => {
      for (let i = 0; i < ws.length; i++) {
        ws[i]!.write(tf.tensor(flat.subarray(l.offsets[i]!, l.offsets[i]! + l.sizes[i]!), l.shapes[i]!));
      }
    });
  }

  getWeights(out: Float32Array): void {
    const l = this.layout!;
    this.m.weights.forEach((w, i) => out.set(w.read().dataSync() as Float32Array, l.offsets[i]!));
  }

  private inputs(images: Uint8Array, count: number, aug: Augment | null): tf.Tensor4D {
    const n = count * this.size * this.size * 3;
    if (this.buf.length < n) this.buf = new Float32Array(n);
    const x = toInputs(images, count, this.size, this.pre, aug, this.buf);
    return tf.tensor4d(x, [count, this.size, this.size, 3]);
  }

  /**
   * Forward and backward on one (sub-)batch. Writes gradients of the mean loss into
   * `grads` (zeros for non-trainable weights) and, for non-trainable weights such as batch
   * norm's moving statistics, their updated values.
   */
  gradients(
    images: Uint8Array,
    labels: Int32Array,
    count: number,
    aug: Augment | null,
    grads: Float32Array,
  ): StepResult {
    const model = this.m;
    const l = this.layout!;
    const classes = model.outputs[0]!.shape[1]!;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const per = this.size * this.size * 3;
    // Micro-batches bound the activations the tape holds (the wasm heap never shrinks);
    // gradients of the mean loss are accumulated weighted by micro-batch size.
    const micro = Math.min(count, this.microBatch);
    let loss = 0;
    let correct = 0;
    for (let s = 0; s < count; s += micro) {
      const n = Math.min(micro, count - s);
      const sub = augmentPart(aug, s, s + n);
      const result = tf.tidy(() => {
        const x = this.inputs(images.subarray(s * per, (s + n) * per), n, sub);
        const y = tf.oneHot(tf.tensor1d(labels.subarray(s, s + n), 'int32'), classes).toFloat();
        let probs: tf.Tensor | null = null;
        const { value, grads: g } = tf.variableGrads(() => {
          // Kept past variableGrads' own tidy so accuracy needs no second forward pass.
          probs = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
          return tf.metrics.categoricalCrossentropy(y, probs).mean() as tf.Scalar;
        }, vars);
        const hits = tf.equal(tf.argMax(probs!, 1), tf.argMax(y, 1)).sum();
        probs!.dispose();
        return { value, g, hits };
      });
      const weight = n / count;
      model.trainableWeights.forEach((w, i) => {
        const k = model.weights.indexOf(w);
        const off = l.offsets[k]!;
        const g = result.g[vars[i]!.name]!.dataSync() as Float32Array;
        if (s === 0) for (let j = 0; j < g.length; j++) grads[off + j] = g[j]! * weight;
        else for (let j = 0; j < g.length; j++) grads[off + j] += g[j]! * weight;
      });
      loss += result.value.dataSync()[0]! * weight;
      correct += result.hits.dataSync()[0]!;
      tf.dispose([result.value, result.hits, ...Object.values(result.g)]);
    }
    // Non-trainable weights (batch norm's moving statistics) travel as their new values.
    model.weights.forEach((w, i) => {
      if (!l.trainable[i]) grads.set(w.read().dataSync() as Float32Array, l.offsets[i]!);
    });
    return { loss, correct, count };
  }

  /** Class probabilities for `count` images, row-major [count, classes]. */
  predict(images: Uint8Array, count: number, batch = 64): Float32Array {
    const model = this.m;
    const classes = model.outputs[0]!.shape[1]!;
    const out = new Float32Array(count * classes);
    const per = this.size * this.size * 3;
    for (let s = 0; s < count; s += batch) {
      const n = Math.min(batch, count - s);
      const probs = tf.tidy(
        () => model.predict(this.inputs(images.subarray(s * per, (s + n) * per), n, null)) as tf.Tensor,
      );
      out.set(probs.dataSync() as Float32Array, s * classes);
      probs.dispose();
    }
    return out;
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
