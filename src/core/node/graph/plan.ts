// The model plan: one representation of a model's layers, that both inference engines run and
// the training graphs are built from: layers in topological order with their shapes (NHWC,
// without the batch axis), explicit paddings and weights. Two readers make it: a tfjs-layers
// model (topology JSON + weights, plan-layers.ts) and a plan stored as such (plan.json, what
// `decomposer import` writes from an ONNX file, plan-spec.ts). Layers we cannot express are
// refused by the readers, naming the layer, so every engine accepts exactly the same models.
import { createHash } from 'node:crypto';
import type { ModelArtifacts } from '../models/io.ts';
import { planLayers } from './plan-layers.ts';
import { planFromSpec } from './plan-spec.ts';

export { padAxis } from './shapes.ts';

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

/** Activations that pass only positive values (ReLU's concern identification applies). */
export const isRelu = (a: Activation): boolean => a === 'relu' || a === 'relu6';

/** Builds the plan of a model; throws UserError naming the first layer it cannot express. */
export function planModel(artifacts: ModelArtifacts): ModelPlan {
  const h = createHash('sha256');
  if (artifacts.kind === 'plan') {
    const read = planFromSpec(artifacts.plan, artifacts.weightSpecs, artifacts.weightData);
    h.update(JSON.stringify(artifacts.plan));
    h.update(JSON.stringify(artifacts.weightSpecs));
    h.update(new Uint8Array(artifacts.weightData));
    return finishPlan(read.nodes, read.input, read.output, h.digest('hex'), 'plan');
  }
  const read = planLayers(artifacts);
  h.update(JSON.stringify(artifacts.topology));
  h.update(JSON.stringify(artifacts.weightSpecs));
  h.update(new Uint8Array(artifacts.weightData));
  return finishPlan(read.nodes, read.input, read.output, h.digest('hex'), 'layers');
}

/** What a reader gives: the nodes and which are the input and the output. */
export interface PlanRead {
  nodes: PlanNode[];
  input: PlanNode;
  output: PlanNode;
}

/** The plan around a reader's nodes: what can be masked and observed, the class count. */
function finishPlan(
  nodes: PlanNode[],
  input: PlanNode,
  output: PlanNode,
  hash: string,
  format: ModelPlan['format'],
): ModelPlan {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  // A Dense layer is "hidden" when another Conv2D/Dense lies downstream of it.
  const consumers = new Map<string, string[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n.name]);
  const feedsWeighted = new Map<string, boolean>();
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    feedsWeighted.set(
      n.name,
      (consumers.get(n.name) ?? []).some((c) => {
        const cn = byName.get(c)!;
        return cn.op === 'conv' || cn.op === 'dense' || feedsWeighted.get(c) === true;
      }),
    );
  }
  const maskable = nodes
    .filter((n) => n.op === 'conv' || n.op === 'dense')
    .map((n) => ({ name: n.name, shape: n.shape }));
  const maskAt: Record<string, string> = {};
  for (const { name } of maskable) {
    const n = byName.get(name)!;
    const next = consumers.get(name) ?? [];
    const bn = next.length === 1 ? byName.get(next[0]!)! : null;
    maskAt[name] = n.act === 'linear' && bn?.op === 'bn' && name !== output.name ? bn.name : name;
  }
  const conv = nodes
    .filter((n) => n.op === 'conv' || (n.op === 'dense' && feedsWeighted.get(n.name)))
    .map((n) => ({ name: n.name, shape: n.shape }));
  const relu = nodes
    .filter((n) => isRelu(n.act) && n.op !== 'input')
    .map((n) => ({ name: n.name, shape: n.op === 'act' ? byName.get(n.inputs[0]!)!.shape : n.shape }));
  return {
    nodes,
    input: { name: input.name, shape: input.shape },
    output: output.name,
    classes: output.shape[0]!,
    maskable,
    maskAt,
    observed: { conv, relu },
    hash,
    format,
  };
}

/**
 * The output Dense layer (the head): the output node itself, or the Dense feeding an output
 * softmax Activation (through identity layers). Throws when there is none.
 */
export function headNode(plan: ModelPlan): PlanNode {
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  let n = byName.get(plan.output)!;
  while (n.op === 'act' || n.op === 'identity') {
    if (n.op === 'act' && n.act !== 'softmax') break;
    n = byName.get(n.inputs[0]!)!;
  }
  if (n.op !== 'dense' || n.inShape.length !== 1) {
    throw new Error(`the model's output is not produced by a Dense layer (found ${n.className} "${n.name}")`);
  }
  return n;
}
