// The model plan's shapes (plan.ts builds it; its readers, plan-layers.ts and plan-spec.ts,
// fill these in): apart from the functions, so the readers need not import the builder.

export type Activation = 'linear' | 'relu' | 'relu6' | 'softmax' | 'sigmoid' | 'tanh';

export type PlanOp =
  'input' | 'conv' | 'dense' | 'act' | 'add' | 'bn' | 'pool' | 'gpool' | 'flatten' | 'identity' | 'pad';

export interface PlanNode {
  name: string;
  /** The layer's type in the plan's vocabulary (tfjs-layers' class names: Conv2D, Dense, ...). */
  className: string;
  op: PlanOp;
  /** Names of the nodes feeding this one (each layer has one output). */
  inputs: string[];
  /** Output shape without the batch axis, tfjs layout: [H, W, C] or [units]. */
  shape: number[];
  /** Shape of the (first) input. */
  inShape: number[];
  /** conv/dense: fused activation; act: the activation; softmax layers: 'softmax'. */
  act: Activation;
  kernel?: Float32Array;
  /** conv: [kh, kw, in, out]; dense: [in, out]. */
  kernelShape?: number[];
  bias?: Float32Array | null;
  strides?: [number, number];
  /** tfjs padding mode ('same' or 'valid'), where a tfjs layer gave one. */
  padding?: 'same' | 'valid';
  /** conv, pool, pad: explicit zero pads [top, left, bottom, right] (every consumer reads these). */
  pads?: [number, number, number, number];
  pool?: 'avg' | 'max';
  poolSize?: [number, number];
  /** avg pool: the padding counts in each window's average (ONNX count_include_pad). */
  countPad?: boolean;
  gamma?: Float32Array;
  beta?: Float32Array;
  mean?: Float32Array;
  variance?: Float32Array;
  epsilon?: number;
  /** bn: the moving statistics' momentum (training). */
  momentum?: number;
  /** Dropout layers: the rate (training). */
  rate?: number;
  /** The layer's weights are not trained (config trainable: false). */
  frozen?: boolean;
  /** Where an imported layer came from: the ONNX operator(s) and node name. */
  source?: string;
}

export interface ModelPlan {
  nodes: PlanNode[];
  input: { name: string; shape: number[] };
  output: string;
  classes: number;
  /** Layers whose output can be masked (Conv2D and Dense), with the mask's shape. */
  maskable: { name: string; shape: number[] }[];
  /**
   * Where each maskable layer's mask applies: the layer's own output (after the bias, before
   * its activation), or, for a linear layer whose one reader is a BatchNormalization, that
   * layer's output: the mask then zeroes what the next ReLU reads, as it does in the same
   * model exported with its batch norm folded into the convolution.
   */
  maskAt: Record<string, string>;
  /** What observe() reports at each point: key (layer name), the node whose value is observed, shape. */
  observed: Record<'conv' | 'relu', { name: string; shape: number[] }[]>;
  /** sha256 of the topology and weights: the session cache key. */
  hash: string;
  /**
   * What the plan was read from: a tfjs-layers model (which the tfjs engines also run) or a
   * stored plan (imported models: they run on onnxruntime).
   */
  format: 'layers' | 'plan';
}

/** What a reader gives: the nodes and which are the input and the output. */
export interface PlanRead {
  nodes: PlanNode[];
  input: PlanNode;
  output: PlanNode;
}
