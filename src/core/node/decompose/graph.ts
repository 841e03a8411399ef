// The model graph as decomposition sees it: which layers can be masked, which one is the
// head, who consumes what. Built from the inference plan (one handler per layer type), and
// refuses, naming the layer, anything the paper's method does not cover.
import { UserError } from '../../common/errors.ts';
import { isRelu, type ModelPlan, type PlanNode } from '../graph/plan.ts';

/** Layer types decomposition supports (and the identity layers that do nothing at inference). */
export const DECOMPOSABLE = [
  'InputLayer',
  'Conv2D',
  'Dense',
  'Activation (relu)',
  'ReLU (and ReLU6)',
  'Add',
  'BatchNormalization',
  'AveragePooling2D',
  'MaxPooling2D',
  'GlobalAveragePooling2D',
  'Flatten',
  'Dropout (identity at inference)',
  'a softmax output',
];

export interface MaskLayer {
  name: string;
  /** [H, W, C] or [units]. */
  shape: number[];
  size: number;
  op: 'conv' | 'dense';
}

export interface DecomposeGraph {
  plan: ModelPlan;
  byName: Map<string, PlanNode>;
  consumers: Map<string, PlanNode[]>;
  /** The output Dense layer: its kernel is [features, classes]. */
  head: PlanNode;
  /** The node whose value feeds the head. */
  headInput: string;
  features: number;
  classes: number;
  /** Conv2D and hidden Dense layers: the layers a module masks, in topological order. */
  layers: MaskLayer[];
  /** True when the model has hidden Dense layers (MC-BLN then removes nodes by δ inside). */
  hiddenDense: boolean;
  /**
   * For the 'relu' observation point: per observed key, the mask layers that force that
   * ReLU's output to 0 when masked together (empty: it cannot be forced exactly).
   */
  reluTargets: Map<string, string[]>;
  /**
   * Linear Conv2D layers whose output reaches an Add (directly, or through BatchNormalization
   * or identity layers): CI's "<= 0 does not matter" holds only before a ReLU, so the
   * 'conv-skip-add' point leaves these unmasked.
   */
  feedsAdd: Set<string>;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function refuse(n: PlanNode, why: string): UserError {
  return new UserError(
    `Layer "${n.name}" (${n.className}) cannot be decomposed: ${why}.`,
    `Decomposition supports: ${DECOMPOSABLE.join(', ')}.`,
    'unsupported-layer',
  );
}

export function analyzeGraph(plan: ModelPlan): DecomposeGraph {
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const consumers = new Map<string, PlanNode[]>();
  for (const n of plan.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);

  // The head: a softmax Dense, or a linear Dense followed by a softmax activation.
  let out = byName.get(plan.output)!;
  while (out.op === 'identity') out = byName.get(out.inputs[0]!)!;
  let head: PlanNode;
  if (out.op === 'dense' && out.act === 'softmax') head = out;
  else if (out.op === 'act' && out.act === 'softmax') {
    let d = byName.get(out.inputs[0]!)!;
    while (d.op === 'identity') d = byName.get(d.inputs[0]!)!;
    if (d.op !== 'dense' || d.act !== 'linear') {
      throw new UserError(
        `The model's softmax "${out.name}" does not directly follow a Dense layer.`,
        'Decomposition channels the output Dense layer of a classifier: its output must be Dense + softmax.',
        'bad-head',
      );
    }
    head = d;
  } else {
    throw new UserError(
      `The model's output layer "${out.name}" (${out.className}) is not a softmax Dense layer.`,
      'Decomposition needs a classifier whose last layer is Dense with a softmax over the classes.',
      'bad-head',
    );
  }
  const afterHead = new Set<string>();
  for (let n: PlanNode = byName.get(plan.output)!; n !== head; n = byName.get(n.inputs[0]!)!)
    afterHead.add(n.name);

  let relus = 0;
  let hiddenDense = false;
  for (const n of plan.nodes) {
    if (n === head || afterHead.has(n.name)) continue;
    switch (n.op) {
      case 'input':
      case 'add':
      case 'bn':
      case 'flatten':
        break;
      case 'identity':
        if (!/Dropout/.test(n.className)) throw refuse(n, 'this layer type is not supported');
        break;
      case 'pool':
        break;
      case 'gpool':
        if (n.pool !== 'avg') throw refuse(n, 'global max pooling is not supported');
        break;
      case 'act':
        if (!isRelu(n.act)) throw refuse(n, `hidden activation "${n.act}" (only ReLU or ReLU6)`);
        relus++;
        break;
      case 'conv':
      case 'dense':
        if (isRelu(n.act)) relus++;
        else if (n.act !== 'linear') throw refuse(n, `activation "${n.act}" (only ReLU, ReLU6 or linear)`);
        if (n.op === 'dense') hiddenDense = true;
        break;
    }
  }
  if (relus === 0) {
    throw new UserError(
      'The model has no ReLU activation.',
      'Concern identification removes nodes that are <= 0 before a ReLU; decompose a model with ReLU hidden layers.',
      'no-relu',
    );
  }
  const layers: MaskLayer[] = plan.nodes
    .filter((n) => (n.op === 'conv' || n.op === 'dense') && n !== head)
    .map((n) => ({ name: n.name, shape: n.shape, size: sizeOf(n.shape), op: n.op as 'conv' | 'dense' }));
  const maskNames = new Set(layers.map((l) => l.name));

  // relu point: a ReLU's output is forced to 0 exactly when its input is forced to 0, which
  // a mask can do when the input is a Conv2D/Dense (or an Add of them) used by nothing else.
  const only = (producer: string, consumer: string) => {
    const c = consumers.get(producer) ?? [];
    return c.length === 1 && c[0]!.name === consumer;
  };
  const resolve = (name: string, consumer: string): string[] | null => {
    const n = byName.get(name)!;
    if (!only(name, consumer)) return null;
    if (n.op === 'identity') return resolve(n.inputs[0]!, n.name);
    if ((n.op === 'conv' || n.op === 'dense') && maskNames.has(n.name) && n.act === 'linear') return [n.name];
    if (n.op === 'add') {
      const all: string[] = [];
      for (const i of n.inputs) {
        const r = resolve(i, n.name);
        if (!r) return null;
        all.push(...r);
      }
      return all;
    }
    return null;
  };
  const reluTargets = new Map<string, string[]>();
  for (const { name } of plan.observed.relu) {
    const n = byName.get(name)!;
    if (n.op === 'conv' || n.op === 'dense') reluTargets.set(name, maskNames.has(name) ? [name] : []);
    else reluTargets.set(name, resolve(n.inputs[0]!, n.name) ?? []);
  }

  const reachesAdd = (name: string): boolean =>
    (consumers.get(name) ?? []).some(
      (c) => c.op === 'add' || ((c.op === 'bn' || c.op === 'identity') && reachesAdd(c.name)),
    );
  const feedsAdd = new Set(
    layers
      .filter((l) => l.op === 'conv' && byName.get(l.name)!.act === 'linear' && reachesAdd(l.name))
      .map((l) => l.name),
  );

  return {
    plan,
    byName,
    consumers,
    head,
    headInput: head.inputs[0]!,
    features: head.inShape[0]!,
    classes: head.shape[0]!,
    layers,
    hiddenDense,
    reluTargets,
    feedsAdd,
  };
}
