// The tfjs training engine: a tfjs backend and a model, living in one thread. A pool runs one
// per worker thread (pool.ts), or one in the calling thread. Weights travel as one flat
// Float32Array in model.weights order (trainable and not), so any thread can hold the
// authoritative copy; the model's own variables take them whenever they changed.
import * as tf from '@tensorflow/tfjs';
import type { BackendName, BackendReport } from '../../../common/api.ts';
import { initBackend } from '../../graph/backend.ts';
import { artifactsToModel, type ModelArtifacts, type Preprocess } from '../../models/io.ts';
import { augmentedInputs, augmentPart } from '../augment.ts';
import type { Augment, BatchResult, TrainingEngine, WeightLayout } from '../training-engine.ts';
import { registerWasmTrainingKernels } from './kernels/index.ts';

/** Images per forward pass when predicting. */
const PREDICT_BATCH = 64;

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

export class TfjsEngine implements TrainingEngine {
  weights: Float32Array<ArrayBufferLike> = new Float32Array(0);
  grads: Float32Array<ArrayBufferLike> = new Float32Array(0);
  layout: WeightLayout | null = null;
  report: BackendReport | null = null;
  readonly device = null;
  readonly size = 1;
  /** Forward passes run on tfjs here; evaluation prefers the onnxruntime inference engine. */
  readonly inference = null;
  private model: tf.LayersModel | null = null;
  private pre: Preprocess = { mean: 0, std: 1 };
  private inputSize = 0;
  private buf: Float32Array = new Float32Array(0);
  private microBatch = 64;
  /** The model's variables no longer hold `weights`. */
  private stale = false;

  /**
   * Starts the tfjs backend (null: the fastest that loads) and, on wasm, our gradient kernels
   * (stock wasm cannot train convolutions).
   */
  async start(backend: BackendName | null): Promise<BackendReport> {
    this.report = await initBackend(backend);
    if (this.report.active === 'wasm') registerWasmTrainingKernels();
    return this.report;
  }

  /** Builds the model; its weights become the engine's. */
  async load(artifacts: ModelArtifacts, pre: Preprocess): Promise<WeightLayout> {
    this.model?.dispose();
    this.model = await artifactsToModel(artifacts);
    this.layout = weightLayout(this.model);
    this.pre = pre;
    this.inputSize = this.model.inputs[0]!.shape[1]!;
    this.microBatch = microBatchFor(this.model);
    this.weights = new Float32Array(artifacts.weightData.slice(0));
    this.grads = new Float32Array(this.layout.total);
    this.stale = false;
    return this.layout;
  }

  weightsChanged(): void {
    this.stale = true;
  }

  private get m(): tf.LayersModel {
    if (!this.model) throw new Error('engine: no model loaded');
    return this.model;
  }

  /** Copies `weights` into the model's variables when they changed. */
  private sync(): void {
    if (!this.stale) return;
    const l = this.layout!;
    const ws = this.m.weights;
    const flat = this.weights;
    tf.tidy(() => {
      for (let i = 0; i < ws.length; i++) {
        ws[i]!.write(tf.tensor(flat.subarray(l.offsets[i]!, l.offsets[i]! + l.sizes[i]!), l.shapes[i]!));
      }
    });
    this.stale = false;
  }

  private inputs(images: Uint8Array, count: number, aug: Augment | null): tf.Tensor4D {
    const n = count * this.inputSize * this.inputSize * 3;
    if (this.buf.length < n) this.buf = new Float32Array(n);
    const x = augmentedInputs(images, count, this.inputSize, this.pre, aug, this.buf);
    return tf.tensor4d(x, [count, this.inputSize, this.inputSize, 3]);
  }

  /**
   * Forward and backward on one (sub-)batch. Writes gradients of the mean loss into `grads`
   * (zeros for non-trainable weights) and, for non-trainable weights such as batch norm's
   * moving statistics, their updated values.
   */
  async gradients(
    images: Uint8Array,
    labels: Int32Array,
    count: number,
    aug: Augment | null,
  ): Promise<BatchResult> {
    this.sync();
    const model = this.m;
    const l = this.layout!;
    const grads = this.grads;
    const classes = model.outputs[0]!.shape[1]!;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const per = this.inputSize * this.inputSize * 3;
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

  /** Class probabilities for `count` images, row-major [count, classes], PREDICT_BATCH at a time. */
  async predict(images: Uint8Array, count: number): Promise<Float32Array> {
    this.sync();
    const model = this.m;
    const classes = model.outputs[0]!.shape[1]!;
    const out = new Float32Array(count * classes);
    const per = this.inputSize * this.inputSize * 3;
    for (let s = 0; s < count; s += PREDICT_BATCH) {
      const n = Math.min(PREDICT_BATCH, count - s);
      const probs = tf.tidy(
        () => model.predict(this.inputs(images.subarray(s * per, (s + n) * per), n, null)) as tf.Tensor,
      );
      out.set(probs.dataSync() as Float32Array, s * classes);
      probs.dispose();
    }
    return out;
  }

  async close(): Promise<void> {
    this.model?.dispose();
    this.model = null;
  }
}

/** One tfjs engine, started on `backend` (null: the fastest that loads). */
export async function openTfjsEngine(backend: BackendName | null): Promise<TfjsEngine> {
  const engine = new TfjsEngine();
  await engine.start(backend);
  return engine;
}
