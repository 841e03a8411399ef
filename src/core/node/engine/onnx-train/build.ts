// Builds the training step of a model as one ONNX graph, from the same layer plan the
// inference converter reads: the forward pass in training mode, softmax cross-entropy against
// one-hot labels, and reverse-mode differentiation, one rule per layer type (rules/).
//
// Graph inputs: "inputs" float [N, H, W, C] (preprocessed, augmented), "labels" float
// [N, classes] (one-hot), and every weight "w:<name>" in tfjs layout, so the flat weight
// array, the optimizer beside the graph and the checkpoint format stay those of tfjs.
// Outputs: "loss" (mean cross-entropy), "correct" (top-1 hits), "g:<name>" the gradient of
// every trainable weight (tfjs layout) and "u:<name>" the new value of batch norm's moving
// statistics. The eval graph ("eval") has the same weight inputs and outputs "probs".
import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../../../common/errors.ts';
import type { ModelPlan, PlanNode } from '../../graph/plan.ts';
import { GraphBuilder } from '../../graph/builder.ts';
import { int } from '../../graph/onnx-proto.ts';
import {
  ruleFor,
  trainableLayerClasses,
  type ForwardResult,
  type RuleContext,
  type WeightKind,
} from './rules/index.ts';
import { IMAGES_FILTER_BYTES } from './rules/Conv2D.ts';
import { identityRule } from './rules/Identity.ts';

export const INPUTS = 'inputs';
export const LABELS = 'labels';
export const LOSS = 'loss';
export const CORRECT = 'correct';
export const PROBS = 'probs';
export const weightInput = (name: string) => `w:${name}`;
export const gradientOutput = (name: string) => `g:${name}`;
export const updateOutput = (name: string) => `u:${name}`;

export interface BuiltGraph {
  bytes: Uint8Array;
  /** Weight indices (into the weight specs) that are graph inputs, in no particular order. */
  weightInputs: number[];
  /** Weight indices with a gradient output. */
  gradients: number[];
  /** Weight indices with a new-value output (moving statistics). */
  updates: number[];
}

const NON_TRAINABLE: readonly WeightKind[] = ['moving_mean', 'moving_variance'];

function refusal(node: PlanNode, why: string): UserError {
  return new UserError(
    `Layer "${node.name}" (${node.className}) cannot be trained by the onnxruntime engine: ${why}.`,
    `Training falls back to tfjs for this model (--backend wasm|cpu). Trainable here: ${trainableLayerClasses().join(', ')}.`,
    'untrainable-layer',
  );
}

/** The output layer with its softmax folded into the loss (the rule sees a linear layer). */
function lossHead(plan: ModelPlan): PlanNode {
  const out = plan.nodes.find((n) => n.name === plan.output)!;
  if (out.act !== 'softmax') {
    throw refusal(
      out,
      `the output is ${out.act}, not softmax (training minimises categorical cross-entropy)`,
    );
  }
  return out;
}

/** Throws a UserError naming the first layer the training graph cannot express. */
export function checkTrainable(plan: ModelPlan): void {
  const head = lossHead(plan);
  for (const n of plan.nodes) {
    if (n.op === 'input') continue;
    const rule = ruleFor(n.className);
    if (!rule) throw refusal(n, 'no training rule for this layer type');
    const why = rule.refuse?.(n === head ? { ...n, act: 'linear' } : n);
    if (why) throw refusal(n, why);
  }
}

/**
 * ReLU layers that only follow a linear Conv2D (its one consumer): the convolution applies
 * the ReLU inside its blocked kernel (and its backward masks by its output, as the ReLU
 * layer would), so the layer itself passes values through. Returns the fused layers' names.
 */
function fusedRelus(plan: ModelPlan, head: PlanNode): Set<string> {
  const consumers = new Map<string, number>();
  for (const n of plan.nodes) for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const fused = new Set<string>();
  for (const n of plan.nodes) {
    if (n === head || n.op === 'input' || n.act !== 'relu' || n.inputs.length !== 1) continue;
    if (!['Activation', 'ReLU'].includes(n.className)) continue;
    const src = byName.get(n.inputs[0]!)!;
    if (src.className === 'Conv2D' && src.act === 'linear' && src !== head && consumers.get(src.name) === 1)
      fused.add(n.name);
  }
  return fused;
}

export interface BuildOptions {
  /** onnxruntime's NCHWc block size for blocked convolutions (nchwc.ts), 0 for plain Conv. */
  nchwcBlock?: number;
  /** Bytes of dz a by-images filter gradient streams per output row (default IMAGES_FILTER_BYTES). */
  imagesFilterBytes?: number;
}

export function buildGraph(
  plan: ModelPlan,
  specs: readonly tf.io.WeightsManifestEntry[],
  mode: 'train' | 'eval',
  opts: BuildOptions = {},
): BuiltGraph {
  checkTrainable(plan);
  const g = new GraphBuilder();
  g.nchwcBlock = opts.nchwcBlock ?? 0;
  const specIndex = new Map(specs.map((s, i) => [s.name, i]));
  const declared = new Set<number>();
  const gradients = new Map<number, string>();
  const updates = new Map<number, string>();
  const head = lossHead(plan);
  const [h, w, c] = plan.input.shape as [number, number, number];

  const values = new Map<string, string>();
  const forwards = new Map<string, { ctx: RuleContext; fwd: ForwardResult }>();
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const fused = fusedRelus(plan, head);
  const reluInside = new Set(plan.nodes.filter((n) => fused.has(n.name)).map((n) => n.inputs[0]!));
  const ruleOf = (n: PlanNode) => (fused.has(n.name) ? identityRule : ruleFor(n.className)!);
  for (const planNode of plan.nodes) {
    if (planNode.op === 'input') {
      // Images stay NHWC, tfjs's layout, in the whole graph.
      g.input(INPUTS, ['N', h, w, c]);
      values.set(planNode.name, INPUTS);
      continue;
    }
    const node =
      planNode === head
        ? { ...planNode, act: 'linear' as const }
        : reluInside.has(planNode.name)
          ? { ...planNode, act: 'relu' as const }
          : planNode;
    const weightIndex = (kind: WeightKind) => specIndex.get(`${node.name}/${kind}`);
    const trainable = (kind: WeightKind) => !node.frozen && !NON_TRAINABLE.includes(kind);
    const ctx: RuleContext = {
      g,
      node,
      inputs: node.inputs.map((i) => values.get(i)!),
      mode,
      imagesFilterBytes: opts.imagesFilterBytes ?? IMAGES_FILTER_BYTES,
      weight(kind) {
        const i = weightIndex(kind);
        if (i === undefined) return null;
        if (!declared.has(i)) {
          declared.add(i);
          g.input(weightInput(specs[i]!.name), specs[i]!.shape);
        }
        return weightInput(specs[i]!.name);
      },
      setGradient(kind, value) {
        const i = weightIndex(kind);
        if (i !== undefined && trainable(kind)) gradients.set(i, value);
      },
      setUpdate(kind, value) {
        const i = weightIndex(kind);
        if (i !== undefined && mode === 'train') updates.set(i, value);
      },
    };
    g.tag = `${node.name}/forward`;
    const fwd = ruleOf(node).forward(ctx);
    values.set(node.name, fwd.output);
    forwards.set(node.name, { ctx, fwd });
  }

  const logits = values.get(head.name)!;
  g.tag = 'loss';
  if (mode === 'eval') {
    g.output(PROBS, g.op('Softmax', [logits], [int('axis', 1)]), ['N', plan.classes]);
    return { bytes: g.encode(), weightInputs: [...declared], gradients: [], updates: [] };
  }

  g.input(LABELS, ['N', plan.classes]);
  const logp = g.op('LogSoftmax', [logits], [int('axis', 1)]);
  const perImage = g.op(
    'ReduceSum',
    [g.op('Mul', [g.op('Neg', [logp]), LABELS]), g.int64([1])],
    [int('keepdims', 0)],
  );
  g.output(LOSS, g.op('ReduceMean', [perImage], [int('keepdims', 0)]), []);
  const hit = g.op('Equal', [
    g.op('ArgMax', [logits], [int('axis', 1), int('keepdims', 0)]),
    g.op('ArgMax', [LABELS], [int('axis', 1), int('keepdims', 0)]),
  ]);
  g.output(CORRECT, g.op('ReduceSum', [g.op('Cast', [hit], [int('to', 1)])], [int('keepdims', 0)]), []);

  // d(mean cross-entropy)/d(logits) = (softmax - onehot) / N.
  const n = g.op('Cast', [g.op('Gather', [g.op('Shape', [logits]), g.int64([0], [])])], [int('to', 1)]);
  const dlogits = g.op('Div', [g.op('Sub', [g.op('Softmax', [logits], [int('axis', 1)]), LABELS]), n]);

  // Reverse mode: gradients arriving at each layer's output are summed (fan-out).
  const incoming = new Map<string, string[]>([[head.name, [dlogits]]]);
  for (let k = plan.nodes.length - 1; k >= 0; k--) {
    const node = plan.nodes[k]!;
    const parts = incoming.get(node.name);
    if (node.op === 'input' || !parts) continue;
    const dy = parts.length === 1 ? parts[0]! : g.op('Sum', parts);
    const { ctx, fwd } = forwards.get(node.name)!;
    const need = node.inputs.map((i) => byName.get(i)!.op !== 'input');
    g.tag = `${node.name}/backward`;
    const dx = ruleOf(node).backward(ctx, fwd, dy, need);
    node.inputs.forEach((i, j) => {
      const d = dx[j];
      if (!need[j] || !d) return;
      incoming.set(i, [...(incoming.get(i) ?? []), d]);
    });
  }
  for (const [i, v] of gradients) g.output(gradientOutput(specs[i]!.name), v, specs[i]!.shape);
  for (const [i, v] of updates) g.output(updateOutput(specs[i]!.name), v, specs[i]!.shape);
  return {
    bytes: g.encode(),
    weightInputs: [...declared],
    gradients: [...gradients.keys()],
    updates: [...updates.keys()],
  };
}
