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
import type { Activation, ModelPlan, PlanNode } from './plan-types.ts';

export type { Activation, ModelPlan, PlanNode, PlanOp, PlanRead } from './plan-types.ts';

export { padAxis } from './shapes.ts';

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
