// The one inference interface the app uses for forward passes over many images
// (decomposition, composed evaluation, reuse, replace, the wizard). Two implementations:
// onnxruntime-node (native) and tfjs (fallback). Conventions, shared by both:
// - images: uint8 pixels, NHWC, `count` images of H*W*P bytes each (layout.inputShape: RGB
//   for 1- and 3-channel models, graph/inputs.ts); preprocessing (a grey model's luma,
//   (p - mean[c]) / std[c], the model's Preprocess) happens inside the engine.
// - masks: per Conv2D/Dense layer name, a Float32Array or Uint8Array shaped like the
//   layer's output without the batch axis, in tfjs's layout ([H, W, C] row-major, or
//   [units]). It multiplies the layer's output after the bias and before the layer's fused
//   activation: 0 forces the position to 0. Layers without a mask are unmasked. Values must
//   be >= 0 (usually 0/1): then relu(z * m) = relu(z) * m, which the ONNX graph uses.
// - observe: per observed layer, a Uint8Array in the same layout as the observed value
//   ([H, W, C] or [units]), 1 where the value was > 0 for ANY of the given images (OR it
//   across batches). Point 'conv': each Conv2D's output and each hidden Dense's output
//   (pre-activation, after the mask). Point 'relu': the input of each ReLU (keyed by the
//   Activation/ReLU layer, or by the Conv2D/Dense whose fused activation is relu).
import type { Preprocess } from '../models/io.ts';

export type InferenceEngineName = 'onnxruntime' | 'tfjs';
export const INFERENCE_PREFERENCE: readonly InferenceEngineName[] = ['onnxruntime', 'tfjs'];

export type MaskSet = Map<string, Float32Array | Uint8Array>;
export type ObservePoint = 'conv' | 'relu';

export interface ObserveOptions {
  point?: ObservePoint;
  /** Masks applied during the observation pass (a module's forward pass). */
  masks?: MaskSet;
}

export interface FeaturesManyOptions {
  /** false: one mask set's pass after the other, sharing nothing (a baseline to compare with). */
  share?: boolean;
  /** The share of the mask sets' passes done. */
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export interface InferenceLayout {
  /** [H, W, P] of one image as it is fed (the pixels, not the model's channels: graph/inputs.ts). */
  inputShape: number[];
  classes: number;
  preprocess: Preprocess;
  /** Layers predictMasked accepts masks for, with the mask's shape. */
  maskable: { name: string; shape: number[] }[];
  /** Keys and shapes observe() reports at each point. */
  observed: Record<ObservePoint, { name: string; shape: number[] }[]>;
}

export interface InferenceStatus {
  name: InferenceEngineName;
  ok: boolean;
  reason?: string;
}

export interface InferenceReport {
  active: InferenceEngineName;
  forced: InferenceEngineName | null;
  candidates: InferenceStatus[];
  /** The tfjs backend, when tfjs is active. */
  tfjsBackend?: string;
  /** Intra-op threads (onnxruntime) and images per run. */
  threads: number;
  batchSize: number;
}

export interface InferenceEngine {
  readonly name: InferenceEngineName;
  readonly report: InferenceReport;
  readonly layout: InferenceLayout;
  /** Class probabilities, row-major [count, classes]. */
  predict(images: Uint8Array, count: number): Promise<Float32Array>;
  predictMasked(images: Uint8Array, count: number, masks: MaskSet): Promise<Float32Array>;
  observe(images: Uint8Array, count: number, opts?: ObserveOptions): Promise<Map<string, Uint8Array>>;
  /**
   * The input of the output Dense layer (the head), row-major [count, F], with optional
   * masks: what decomposition's two-node heads are computed from.
   */
  predictFeatures?(images: Uint8Array, count: number, masks?: MaskSet): Promise<Float32Array>;
  /**
   * predictFeatures for several mask sets at once (a composed evaluation's modules), sharing
   * the work their passes share where the engine can.
   */
  predictFeaturesMany?(
    images: Uint8Array,
    count: number,
    maskSets: readonly MaskSet[],
    opts?: FeaturesManyOptions,
  ): Promise<Float32Array[]>;
  close(): Promise<void>;
}

/** Checks masks against the layout and returns float masks for every maskable layer. */
export function fullMasks(
  layout: InferenceLayout,
  masks: MaskSet | undefined,
  ones: Map<string, Float32Array>,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const known = new Map(layout.maskable.map((m) => [m.name, m.shape]));
  for (const [name, m] of masks ?? []) {
    const shape = known.get(name);
    if (!shape) throw new Error(`no Conv2D or Dense layer "${name}" to mask`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (m.length !== size)
      throw new Error(`mask for "${name}" has ${m.length} values, not ${size} ([${shape.join(', ')}])`);
    const f = m instanceof Float32Array ? m : Float32Array.from(m);
    // Engines may apply a mask after a following ReLU, which needs m >= 0 (and no NaN).
    for (let i = 0; i < f.length; i++) {
      if (!(f[i]! >= 0)) throw new Error(`mask for "${name}" has a negative or NaN value at ${i}`);
    }
    out.set(name, f);
  }
  for (const { name, shape } of layout.maskable) {
    if (out.has(name)) continue;
    let o = ones.get(name);
    if (!o) {
      o = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1);
      ones.set(name, o);
    }
    out.set(name, o);
  }
  return out;
}

export function checkImages(layout: InferenceLayout, images: Uint8Array, count: number): number {
  const per = layout.inputShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(count) || count < 0 || images.length < count * per) {
    throw new Error(`images hold ${images.length} bytes, not ${count} x ${per}`);
  }
  return per;
}

/** Features of each mask set, one pass after the other (predictFeaturesMany where nothing is shared). */
export async function featuresInTurn(
  engine: Pick<InferenceEngine, 'predictFeatures'>,
  images: Uint8Array,
  count: number,
  maskSets: readonly MaskSet[],
  opts: FeaturesManyOptions = {},
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const m of maskSets) {
    opts.signal?.throwIfAborted();
    out.push(await engine.predictFeatures!(images, count, m));
    opts.onProgress?.(out.length / maskSets.length);
  }
  return out;
}
