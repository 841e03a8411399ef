// The onnxruntime training engine: a model's training-step graph and its eval graph, built
// once per model (weights are inputs, so new weights need no new graph) and kept open as
// two sessions. Gradients come back in tfjs layout into `grads`; the optimizer runs beside
// the graph over the flat weights, as with the tfjs pool.
import type * as Ort from 'onnxruntime-node';
import type { BackendReport } from '../../../common/api.ts';
import { UserError } from '../../../common/errors.ts';
import type { OrtModule } from '../../graph/ort.ts';
import { planModel, type ModelPlan } from '../../graph/plan.ts';
import type { ModelArtifacts, Preprocess } from '../../models/io.ts';
import { augmentedInputs, augmentPart } from '../augment.ts';
import { pixelChannels } from '../../graph/inputs.ts';
import type { Augment, BatchResult, DeviceChoice, TrainingEngine, WeightLayout } from '../training-engine.ts';
import {
  buildGraph,
  CORRECT,
  gradientOutput,
  INPUTS,
  LABELS,
  LOSS,
  PROBS,
  updateOutput,
  weightInput,
  type BuiltGraph,
} from './build.ts';
import { chooseDevice, type TrainingDevice } from './device.ts';
import { nchwcBlockSize } from '../../graph/nchwc.ts';

export interface OnnxTrainOptions {
  /** Intra-op threads (default: every core). */
  threads: number;
  /** Session options merged over ours (profiling, optimisation level: the bench's tuning). */
  session?: Ort.InferenceSession.SessionOptions;
  /** Use onnxruntime's blocked (NCHWc) convolution kernels where the CPU has them (default true). */
  nchwc?: boolean;
  /** cpu, gpu (its provider, else the CPU with the reason) or auto; null: the process default. */
  device?: TrainingDevice | null;
  /** Bytes of dz a by-images filter gradient streams per output row (build.ts; tests make it small). */
  imagesFilterBytes?: number;
  /** Bytes of activations one run may hold (default onnxActivationBudget()). */
  activationBudget?: number;
}

/** Activation memory of one training run; DECOMPOSER_ACTIVATION_MIB overrides (default 3 GiB). */
export function onnxActivationBudget(): number {
  const mib = Number(process.env.DECOMPOSER_ACTIVATION_MIB);
  return (Number.isFinite(mib) && mib > 0 ? mib : 3072) * 1024 * 1024;
}

/**
 * Bytes of activations one image holds in a training run: measured at about twice every
 * layer's output per image (ResNet-56, 64x64).
 */
export function activationBytesPerImage(plan: ModelPlan): number {
  const floats = plan.nodes.reduce((a, n) => a + n.shape.reduce((x, y) => x * y, 1), 0);
  return floats * 4 * 2;
}

/** Images per run so a step's activations stay within the budget (at least one). */
export function microBatchFor(plan: ModelPlan, budget: number): number {
  return Math.max(1, Math.floor(budget / activationBytesPerImage(plan)));
}

/**
 * Refuses a model one image of which would not fit the activation budget on its own: a step
 * cannot be split below one image per run.
 */
export function checkActivationBudget(plan: ModelPlan, budget = onnxActivationBudget()): void {
  const need = activationBytesPerImage(plan);
  if (need <= budget) return;
  const mib = (b: number) => Math.round((b / 2 ** 20) * 100) / 100;
  const [h, w, c] = plan.input.shape;
  throw new UserError(
    `One ${h}x${w}x${c} image of this model holds about ${mib(need)} MiB of activations in a training step, over the activation budget of ${mib(budget)} MiB.`,
    `Where the machine has the memory, raise the budget to at least that (DECOMPOSER_ACTIVATION_MIB=${Math.ceil(need / 2 ** 20)}); otherwise use a model of smaller inputs.`,
    'activations-over-budget',
  );
}

/** Layout of the flat weights, straight from the weight specs (tfjs's model.weights order). */
export function layoutOf(artifacts: ModelArtifacts, plan: ModelPlan): WeightLayout {
  const frozen = new Set(plan.nodes.filter((n) => n.frozen).map((n) => n.name));
  const l: WeightLayout = { names: [], shapes: [], offsets: [], sizes: [], trainable: [], total: 0 };
  for (const s of artifacts.weightSpecs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const [layer, kind] = [
      s.name.slice(0, s.name.lastIndexOf('/')),
      s.name.slice(s.name.lastIndexOf('/') + 1),
    ];
    l.names.push(s.name);
    l.shapes.push(s.shape);
    l.offsets.push(l.total);
    l.sizes.push(size);
    l.trainable.push(!frozen.has(layer) && kind !== 'moving_mean' && kind !== 'moving_variance');
    l.total += size;
  }
  return l;
}

interface Loaded {
  key: string;
  plan: ModelPlan;
  train: BuiltGraph;
  evalGraph: BuiltGraph;
  trainSession: Ort.InferenceSession;
  evalSession: Ort.InferenceSession;
}

export class OnnxTrainEngine implements TrainingEngine {
  weights: Float32Array<ArrayBufferLike> = new Float32Array(0);
  grads: Float32Array<ArrayBufferLike> = new Float32Array(0);
  layout: WeightLayout | null = null;
  report: BackendReport | null = null;
  readonly inference = 'onnxruntime' as const;
  private loaded: Loaded | null = null;
  /** Where the sessions run (set by load). */
  device: DeviceChoice | null = null;
  private pre: Preprocess = { mean: 0, std: 1 };
  private buf = new Float32Array(0);
  private microBatch = Infinity;

  private readonly ort: OrtModule;
  private readonly opts: OnnxTrainOptions;

  constructor(ort: OrtModule, opts: OnnxTrainOptions) {
    this.ort = ort;
    this.opts = opts;
  }

  get size(): number {
    return this.opts.threads;
  }

  private sessionOptions(): Ort.InferenceSession.SessionOptions {
    return {
      executionProviders: this.device?.providers ?? ['cpu'],
      intraOpNumThreads: this.opts.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      // Intra-op threads that spin between ops lose their time slices whenever anything
      // else runs on the machine; sleeping ones kept a two-thread session from collapsing
      // under load (measured) and cost little on an idle machine.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      ...this.opts.session,
    };
  }

  /**
   * Builds (or reuses, for the same topology) the model's graphs and takes its weights.
   * Throws UserError naming a layer the graphs cannot train.
   */
  async load(artifacts: ModelArtifacts, pre: Preprocess): Promise<WeightLayout> {
    const key = JSON.stringify([
      artifacts.kind === 'plan' ? artifacts.plan : artifacts.topology,
      artifacts.weightSpecs,
    ]);
    if (this.loaded?.key !== key) {
      await this.release();
      const plan = planModel(artifacts);
      this.device ??= await chooseDevice(this.ort, this.opts.device ?? null);
      // The blocked kernels are onnxruntime's CPU kernels.
      const nchwcBlock =
        this.opts.nchwc === false || this.device.active === 'gpu' ? 0 : await nchwcBlockSize(this.ort);
      const train = buildGraph(plan, artifacts.weightSpecs, 'train', {
        nchwcBlock,
        imagesFilterBytes: this.opts.imagesFilterBytes,
      });
      const evalGraph = buildGraph(plan, artifacts.weightSpecs, 'eval', { nchwcBlock });
      const trainSession = await this.ort.InferenceSession.create(train.bytes, this.sessionOptions());
      let evalSession: Ort.InferenceSession;
      try {
        evalSession = await this.ort.InferenceSession.create(evalGraph.bytes, this.sessionOptions());
      } catch (e) {
        await trainSession.release();
        throw e;
      }
      this.loaded = { key, plan, train, evalGraph, trainSession, evalSession };
      this.microBatch = microBatchFor(plan, this.opts.activationBudget ?? onnxActivationBudget());
      this.layout = layoutOf(artifacts, plan);
    }
    this.pre = pre;
    const floats = artifacts.weightData.byteLength / 4;
    if (floats !== this.layout!.total)
      throw new Error(`weight layout (${this.layout!.total}) does not match weights (${floats})`);
    this.weights = new Float32Array(artifacts.weightData.slice(0));
    this.grads = new Float32Array(floats);
    return this.layout!;
  }

  /** Weights are read at every run: nothing to copy. */
  weightsChanged(): void {}

  private get model(): Loaded {
    if (!this.loaded) throw new Error('onnxruntime training engine: no model loaded');
    return this.loaded;
  }

  private weightFeeds(graph: BuiltGraph, weights = this.weights): Record<string, Ort.Tensor> {
    const l = this.layout!;
    const feeds: Record<string, Ort.Tensor> = {};
    for (const i of graph.weightInputs) {
      const off = l.offsets[i]!;
      feeds[weightInput(l.names[i]!)] = new this.ort.Tensor(
        'float32',
        weights.subarray(off, off + l.sizes[i]!) as Float32Array,
        l.shapes[i]!,
      );
    }
    return feeds;
  }

  private inputs(images: Uint8Array, count: number, aug: Augment | null): Ort.Tensor {
    const [h, w, c] = this.model.plan.input.shape as [number, number, number];
    const n = count * h * w * c;
    if (this.buf.length < n) this.buf = new Float32Array(n);
    // A grey (1-channel) model reads the pixels' luma, as every engine feeds it (graph/inputs.ts).
    const x = augmentedInputs(images, count, h, this.pre, aug, this.buf, c);
    return new this.ort.Tensor('float32', x, [count, h, w, c]);
  }

  async gradients(
    images: Uint8Array,
    labels: Int32Array,
    count: number,
    aug: Augment | null,
  ): Promise<BatchResult> {
    const m = this.model;
    const l = this.layout!;
    const classes = m.plan.classes;
    const [h, w, c] = m.plan.input.shape as [number, number, number];
    const per = h * w * pixelChannels(c); // the stored pixels' bytes per image
    const g = this.grads;
    // Slots without a gradient: trainable ones the graph does not use get 0; non-trainable
    // ones carry their value (new moving statistics, or unchanged frozen weights).
    for (let i = 0; i < l.names.length; i++) {
      const off = l.offsets[i]!;
      if (l.trainable[i]) g.fill(0, off, off + l.sizes[i]!);
      else g.set(this.weights.subarray(off, off + l.sizes[i]!), off);
    }
    // Micro-batches bound the activations one run holds; gradients of the mean loss add up
    // weighted by size, and each micro-batch's moving statistics feed the next (as tfjs).
    const micro = Math.min(count, this.microBatch);
    let fed = this.weights;
    let loss = 0;
    let correct = 0;
    for (let s = 0; s < count; s += micro) {
      const n = Math.min(micro, count - s);
      const sub = augmentPart(aug, s, s + n);
      const onehot = new Float32Array(n * classes);
      for (let i = 0; i < n; i++) onehot[i * classes + labels[s + i]!] = 1;
      const feeds = this.weightFeeds(m.train, fed);
      feeds[INPUTS] = this.inputs(images.subarray(s * per, (s + n) * per), n, sub);
      feeds[LABELS] = new this.ort.Tensor('float32', onehot, [n, classes]);
      const out = await m.trainSession.run(feeds);
      const weight = n / count;
      for (const i of m.train.gradients) {
        const d = out[gradientOutput(l.names[i]!)]!.data as Float32Array;
        const off = l.offsets[i]!;
        if (n === count) g.set(d, off);
        else for (let j = 0; j < d.length; j++) g[off + j] += d[j]! * weight;
      }
      for (const i of m.train.updates) {
        const d = out[updateOutput(l.names[i]!)]!.data as Float32Array;
        g.set(d, l.offsets[i]!);
        if (s + n < count) {
          if (fed === this.weights) fed = this.weights.slice();
          fed.set(d, l.offsets[i]!);
        }
      }
      loss += (out[LOSS]!.data as Float32Array)[0]! * weight;
      correct += (out[CORRECT]!.data as Float32Array)[0]!;
      for (const t of Object.values(out)) t.dispose();
    }
    return { loss, correct, count };
  }

  /** Class probabilities with the current weights, `chunk` images per run. */
  async predict(
    images: Uint8Array,
    count: number,
    imageBytes: number,
    classes: number,
    chunk = 256,
  ): Promise<Float32Array> {
    const m = this.model;
    const out = new Float32Array(count * classes);
    const feeds = this.weightFeeds(m.evalGraph);
    for (let a = 0; a < count; a += chunk) {
      const b = Math.min(count, a + chunk);
      feeds[INPUTS] = this.inputs(images.subarray(a * imageBytes, b * imageBytes), b - a, null);
      const r = await m.evalSession.run(feeds);
      out.set(r[PROBS]!.data as Float32Array, a * classes);
      for (const t of Object.values(r)) t.dispose();
    }
    return out;
  }

  private async release(): Promise<void> {
    const m = this.loaded;
    this.loaded = null;
    if (m) await Promise.all([m.trainSession.release(), m.evalSession.release()]);
  }

  async close(): Promise<void> {
    await this.release();
  }
}
