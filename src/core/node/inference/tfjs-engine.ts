// The tfjs inference engine: a small graph executor over the model plan with tf ops, in
// NHWC, on whatever tfjs backend is active. It applies masks where the plan says (after each
// Conv2D/Dense op's bias, before the activation, or after the batch norm that is its one
// reader) and records activity, so it gives the same results as the ONNX graphs; it is the
// fallback where onnxruntime-node cannot load.
import * as tf from '@tensorflow/tfjs';
import { toInputs } from '../graph/inputs.ts';
import { headNode, type Activation, type ModelPlan, type PlanNode } from '../graph/plan.ts';
import { tfjsRefusal, type Preprocess } from '../models/io.ts';
import {
  checkImages,
  fullMasks,
  type InferenceEngine,
  type InferenceLayout,
  type InferenceReport,
  type MaskSet,
  type ObserveOptions,
  type ObservePoint,
} from './types.ts';

interface NodeWeights {
  kernel?: tf.Tensor;
  bias?: tf.Tensor | null;
  gamma?: tf.Tensor1D;
  beta?: tf.Tensor1D;
  mean?: tf.Tensor1D;
  variance?: tf.Tensor1D;
}

function activate(x: tf.Tensor, act: Activation): tf.Tensor {
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softmax':
      return tf.softmax(x, -1);
  }
}

export class TfjsInference implements InferenceEngine {
  readonly name = 'tfjs' as const;
  readonly report: InferenceReport;
  readonly layout: InferenceLayout;
  private readonly plan: ModelPlan;
  private readonly pre: Preprocess;
  private readonly batchSize: number;
  private weights = new Map<string, NodeWeights>();
  private ones = new Map<string, Float32Array>();
  private buf = new Float32Array(0);
  /** The Conv2D/Dense whose mask applies after a batch norm, by the batch norm (plan.maskAt). */
  private readonly maskOf: Map<string, string>;

  constructor(plan: ModelPlan, layout: InferenceLayout, report: InferenceReport) {
    // Stored plans (imported models) may hold what tfjs-layers cannot say (asymmetric pads,
    // ceil-mode and padding-counting pools): they run on onnxruntime only.
    if (plan.format === 'plan') throw tfjsRefusal();
    this.plan = plan;
    this.maskOf = new Map(Object.entries(plan.maskAt).flatMap(([l, at]) => (at === l ? [] : [[at, l]])));
    this.layout = layout;
    this.report = report;
    this.pre = layout.preprocess;
    this.batchSize = report.batchSize;
    for (const n of plan.nodes) {
      if (n.op === 'conv' || n.op === 'dense') {
        this.weights.set(n.name, {
          kernel: tf.tensor(n.kernel!, n.kernelShape!),
          bias: n.bias ? tf.tensor1d(n.bias) : null,
        });
      } else if (n.op === 'bn') {
        this.weights.set(n.name, {
          gamma: tf.tensor1d(n.gamma!),
          beta: tf.tensor1d(n.beta!),
          mean: tf.tensor1d(n.mean!),
          variance: tf.tensor1d(n.variance!),
        });
      }
    }
  }

  /**
   * One forward pass over preprocessed NHWC inputs. With `observe`, returns instead the
   * maximum over the batch of every observed value (kept tensors, caller disposes).
   */
  private forward(
    x: tf.Tensor4D,
    masks: Map<string, tf.Tensor> | null,
    observe: ObservePoint | null,
    output = this.plan.output,
  ): { probs: tf.Tensor | null; maxima: Map<string, tf.Tensor> } {
    const vals = new Map<string, tf.Tensor>();
    const maxima = new Map<string, tf.Tensor>();
    const conv = new Set(observe === 'conv' ? this.plan.observed.conv.map((o) => o.name) : []);
    const relu = new Set(observe === 'relu' ? this.plan.observed.relu.map((o) => o.name) : []);
    const record = (key: string, v: tf.Tensor) => maxima.set(key, tf.keep(tf.max(v, 0)));
    const out: { probs: tf.Tensor | null } = { probs: null };
    tf.tidy(() => {
      for (const n of this.plan.nodes) {
        const inp = n.inputs.length ? vals.get(n.inputs[0]!)! : x;
        vals.set(n.name, this.node(n, inp, vals, masks, conv, relu, record));
      }
      if (!observe) out.probs = tf.keep(vals.get(output)!);
    });
    return { probs: out.probs, maxima };
  }

  private node(
    n: PlanNode,
    x: tf.Tensor,
    vals: Map<string, tf.Tensor>,
    masks: Map<string, tf.Tensor> | null,
    conv: Set<string>,
    relu: Set<string>,
    record: (key: string, v: tf.Tensor) => void,
  ): tf.Tensor {
    const w = this.weights.get(n.name);
    switch (n.op) {
      case 'input':
      case 'identity':
        return x;
      case 'conv':
      case 'dense': {
        let z =
          n.op === 'conv'
            ? tf.conv2d(x as tf.Tensor4D, w!.kernel as tf.Tensor4D, n.strides!, this.explicitPads(n))
            : tf.matMul(x as tf.Tensor2D, w!.kernel as tf.Tensor2D);
        if (w!.bias) z = tf.add(z, w!.bias);
        // The mask (and the conv observation) where the plan says: here, or after the batch norm.
        if (this.plan.maskAt[n.name] === n.name) {
          const m = masks?.get(n.name);
          if (m) z = tf.mul(z, m);
          if (conv.has(n.name)) record(n.name, z);
        }
        if (relu.has(n.name)) record(n.name, z);
        return activate(z, n.act);
      }
      case 'act':
        if (relu.has(n.name)) record(n.name, x);
        return activate(x, n.act);
      case 'add':
        return tf.addN(n.inputs.map((i) => vals.get(i)!));
      case 'bn': {
        let y = tf.batchNorm(x, w!.mean!, w!.variance!, w!.beta!, w!.gamma!, n.epsilon!);
        const layer = this.maskOf.get(n.name);
        if (layer !== undefined) {
          const m = masks?.get(layer);
          if (m) y = tf.mul(y, m);
          if (conv.has(layer)) record(layer, y);
        }
        return y;
      }
      case 'pool':
        return n.pool === 'avg'
          ? tf.avgPool(x as tf.Tensor4D, n.poolSize!, n.strides!, n.padding!)
          : tf.maxPool(x as tf.Tensor4D, n.poolSize!, n.strides!, n.padding!);
      case 'gpool':
        return n.pool === 'avg' ? tf.mean(x, [1, 2]) : tf.max(x, [1, 2]);
      case 'flatten':
        return tf.reshape(x, [x.shape[0]!, -1]);
      case 'pad':
        throw tfjsRefusal(); // only stored plans have these
    }
  }

  // Explicit pads rather than 'same': tfjs-backend-wasm 4.22 returns zeros for some 'same'
  // convolutions whose stride exceeds the kernel (e.g. 2x2, stride 3, 6x4 input), where
  // the cpu backend and explicit pads agree.
  private explicitPads(
    n: PlanNode,
  ): [[number, number], [number, number], [number, number], [number, number]] {
    const [t, l, b, r] = n.pads!;
    return [
      [0, 0],
      [t, b],
      [l, r],
      [0, 0],
    ];
  }

  private inputs(images: Uint8Array, a: number, b: number, per: number): tf.Tensor4D {
    const [h, w, c] = this.plan.input.shape as [number, number, number];
    const n = b - a;
    if (this.buf.length < n * h * w * c) this.buf = new Float32Array(n * h * w * c);
    const x = toInputs(images.subarray(a * per, b * per), n, [h, w], this.pre, this.buf, c);
    return tf.tensor4d(x, [n, h, w, c]);
  }

  private maskTensors(masks: MaskSet | undefined): Map<string, tf.Tensor> {
    const full = fullMasks(this.layout, masks, this.ones);
    const out = new Map<string, tf.Tensor>();
    for (const { name, shape } of this.layout.maskable) out.set(name, tf.tensor(full.get(name)!, shape));
    return out;
  }

  private async run(
    images: Uint8Array,
    count: number,
    masks: MaskSet | null,
    features = false,
  ): Promise<Float32Array> {
    const per = checkImages(this.layout, images, count);
    const head = features ? headNode(this.plan) : null;
    const classes = head ? head.inShape[0]! : this.layout.classes;
    const out = new Float32Array(count * classes);
    const mt = masks ? this.maskTensors(masks) : null;
    try {
      for (let a = 0; a < count; a += this.batchSize) {
        const b = Math.min(count, a + this.batchSize);
        const x = this.inputs(images, a, b, per);
        const { probs } = this.forward(x, mt, null, head ? head.inputs[0]! : this.plan.output);
        x.dispose();
        out.set((await probs!.data()) as Float32Array, a * classes);
        probs!.dispose();
      }
    } finally {
      if (mt) tf.dispose([...mt.values()]);
    }
    return out;
  }

  predict(images: Uint8Array, count: number): Promise<Float32Array> {
    return this.run(images, count, null);
  }

  predictMasked(images: Uint8Array, count: number, masks: MaskSet): Promise<Float32Array> {
    return this.run(images, count, masks);
  }

  predictFeatures(images: Uint8Array, count: number, masks?: MaskSet): Promise<Float32Array> {
    return this.run(images, count, masks ?? new Map(), true);
  }

  /** Per observed key, the maximum of the value over the given images (for tests and ties). */
  async observeMax(
    images: Uint8Array,
    count: number,
    opts: ObserveOptions = {},
  ): Promise<Map<string, Float32Array>> {
    const point = opts.point ?? 'conv';
    const per = checkImages(this.layout, images, count);
    const mt = this.maskTensors(opts.masks);
    const out = new Map<string, Float32Array>();
    try {
      for (let a = 0; a < count; a += this.batchSize) {
        const b = Math.min(count, a + this.batchSize);
        const x = this.inputs(images, a, b, per);
        const { maxima } = this.forward(x, mt, point);
        x.dispose();
        for (const [key, t] of maxima) {
          const v = (await t.data()) as Float32Array;
          t.dispose();
          const prev = out.get(key);
          if (!prev) out.set(key, v.slice());
          else for (let i = 0; i < v.length; i++) if (v[i]! > prev[i]!) prev[i] = v[i]!;
        }
      }
    } finally {
      tf.dispose([...mt.values()]);
    }
    return out;
  }

  async observe(
    images: Uint8Array,
    count: number,
    opts: ObserveOptions = {},
  ): Promise<Map<string, Uint8Array>> {
    const maxima = await this.observeMax(images, count, opts);
    const out = new Map<string, Uint8Array>();
    for (const { name, shape } of this.layout.observed[opts.point ?? 'conv']) {
      const m = maxima.get(name);
      const a = new Uint8Array(shape.reduce((x, y) => x * y, 1));
      if (m) for (let i = 0; i < a.length; i++) a[i] = m[i]! > 0 ? 1 : 0;
      out.set(name, a);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const w of this.weights.values()) {
      tf.dispose(Object.values(w).filter((t): t is tf.Tensor => t instanceof tf.Tensor));
    }
    this.weights.clear();
  }
}
