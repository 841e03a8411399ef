// A plan stored as such (plan.json, models/schema.ts's PLAN_SPEC): what `decomposer import`
// writes. Read back into plan nodes by computing every shape from the input and the weights,
// so a stored plan that does not add up (a kernel for other channels, a window larger than
// its input) is refused, naming the layer; and written from any plan, the reverse.
import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../../common/errors.ts';
import type { PlanArtifacts } from '../models/io.ts';
import type { PlanNodeSpec, PlanSpec } from '../models/schema.ts';
import type { Activation, ModelPlan, PlanNode, PlanOp, PlanRead } from './plan-types.ts';
import { checkInputSize, windowOut } from './shapes.ts';
import { packWeights, weightViews } from './weights.ts';

type WeightKind = 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';

const OPS: Record<PlanNodeSpec['className'], PlanOp> = {
  InputLayer: 'input',
  Conv2D: 'conv',
  Dense: 'dense',
  Activation: 'act',
  ReLU: 'act',
  Softmax: 'act',
  Add: 'add',
  BatchNormalization: 'bn',
  AveragePooling2D: 'pool',
  MaxPooling2D: 'pool',
  GlobalAveragePooling2D: 'gpool',
  GlobalMaxPooling2D: 'gpool',
  Flatten: 'flatten',
  ZeroPadding2D: 'pad',
  Dropout: 'identity',
};

function refuse(n: { name: string; className: string }, why: string): UserError {
  return new UserError(
    `The stored plan's layer "${n.name}" (${n.className}) does not add up: ${why}.`,
    'The folder was edited or damaged: restore it, or import the model again.',
    'bad-model',
  );
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The sizes of a window layer (conv, pool) over an [H, W, C] input; throws when empty. */
function window(
  s: PlanNodeSpec,
  inShape: number[],
  k: [number, number],
): { out: [number, number]; strides: [number, number]; pads: [number, number, number, number] } {
  const strides = (s.strides ?? [1, 1]) as [number, number];
  const pads = (s.pads ?? [0, 0, 0, 0]) as [number, number, number, number];
  if (strides[0] < 1 || strides[1] < 1) throw refuse(s, `strides [${strides.join(', ')}]`);
  const oh = windowOut(inShape[0]!, k[0], strides[0], pads[0], pads[2]);
  const ow = windowOut(inShape[1]!, k[1], strides[1], pads[1], pads[3]);
  if (oh < 1 || ow < 1)
    throw refuse(s, `a ${k.join('x')} window over ${inShape[0]}x${inShape[1]} gives no output`);
  return { out: [oh, ow], strides, pads };
}

/** One node of the spec, its shape computed from its input's. */
function readNode(
  s: PlanNodeSpec,
  ins: PlanNode[],
  weight: (kind: WeightKind, optional?: boolean) => { shape: number[]; data: Float32Array } | null,
): PlanNode {
  const op = OPS[s.className];
  const inShape = ins[0]?.shape ?? [];
  const node: PlanNode = {
    name: s.name,
    className: s.className,
    op,
    inputs: s.inputs,
    shape: inShape,
    inShape,
    act: (s.activation ??
      (s.className === 'Softmax' ? 'softmax' : s.className === 'ReLU' ? 'relu' : 'linear')) as Activation,
    ...(s.source ? { source: s.source } : {}),
  };
  const image = () => {
    if (inShape.length !== 3) throw refuse(s, `its input has shape [${inShape.join(', ')}], not [H, W, C]`);
  };
  if (op !== 'input' && op !== 'add' && ins.length !== 1) throw refuse(s, `it has ${ins.length} inputs`);
  switch (op) {
    case 'input':
      if (!s.shape || ins.length) throw refuse(s, 'an input has a shape [H, W, C] and no inputs');
      checkInputSize(s.shape);
      node.shape = [...s.shape];
      break;
    case 'conv': {
      image();
      const k = weight('kernel')!;
      const [kh, kw, ci, co] = k.shape as [number, number, number, number];
      if (k.shape.length !== 4 || ci !== inShape[2])
        throw refuse(s, `its kernel [${k.shape.join(', ')}] does not take ${inShape[2]} channels`);
      const { out, strides, pads } = window(s, inShape, [kh, kw]);
      const bias = weight('bias', true);
      if (bias && !same(bias.shape, [co])) throw refuse(s, `its bias has shape [${bias.shape.join(', ')}]`);
      Object.assign(node, {
        shape: [...out, co],
        kernel: k.data,
        kernelShape: k.shape,
        bias: bias?.data ?? null,
        strides,
        pads,
      });
      break;
    }
    case 'dense': {
      if (inShape.length !== 1) throw refuse(s, `its input has shape [${inShape.join(', ')}], not flat`);
      const k = weight('kernel')!;
      if (k.shape.length !== 2 || k.shape[0] !== inShape[0])
        throw refuse(s, `its kernel [${k.shape.join(', ')}] does not take ${inShape[0]} features`);
      const bias = weight('bias', true);
      if (bias && !same(bias.shape, [k.shape[1]!]))
        throw refuse(s, `its bias has shape [${bias.shape.join(', ')}]`);
      Object.assign(node, {
        shape: [k.shape[1]!],
        kernel: k.data,
        kernelShape: k.shape,
        bias: bias?.data ?? null,
      });
      break;
    }
    case 'act':
      if (node.act === 'softmax' && inShape.length !== 1) throw refuse(s, 'softmax over an image');
      break;
    case 'add':
      if (ins.length < 2) throw refuse(s, 'it has fewer than 2 inputs');
      for (const i of ins) if (!same(i.shape, inShape)) throw refuse(s, 'its inputs differ in shape');
      break;
    case 'bn': {
      const c = inShape[inShape.length - 1]!;
      const get = (kind: WeightKind) => {
        const w = weight(kind)!;
        if (!same(w.shape, [c])) throw refuse(s, `its ${kind} has shape [${w.shape.join(', ')}], not [${c}]`);
        return w.data;
      };
      Object.assign(node, {
        gamma: get('gamma'),
        beta: get('beta'),
        mean: get('moving_mean'),
        variance: get('moving_variance'),
        epsilon: s.epsilon ?? 1e-5,
        momentum: s.momentum ?? 0.9,
      });
      break;
    }
    case 'pool': {
      image();
      if (!s.poolSize) throw refuse(s, 'no poolSize');
      const size = s.poolSize as [number, number];
      const { out, strides, pads } = window(s, inShape, size);
      const avg = s.className === 'AveragePooling2D';
      Object.assign(node, {
        pool: avg ? 'avg' : 'max',
        shape: [...out, inShape[2]!],
        poolSize: size,
        strides,
        pads,
        ...(avg && s.countPad ? { countPad: true } : {}),
      });
      break;
    }
    case 'gpool':
      image();
      node.pool = s.className === 'GlobalMaxPooling2D' ? 'max' : 'avg';
      node.shape = [inShape[2]!];
      break;
    case 'flatten':
      node.shape = [inShape.reduce((a, b) => a * b, 1)];
      break;
    case 'pad': {
      image();
      const p = (s.pads ?? [0, 0, 0, 0]) as [number, number, number, number];
      node.pads = p;
      node.shape = [inShape[0]! + p[0] + p[2], inShape[1]! + p[1] + p[3], inShape[2]!];
      break;
    }
    case 'identity':
      break;
  }
  return node;
}

/** The nodes of a stored plan; throws UserError naming the first layer that does not add up. */
export function planFromSpec(
  spec: PlanSpec,
  specs: readonly tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
): PlanRead {
  const weights = weightViews(specs, data);
  const byName = new Map<string, PlanNode>();
  const nodes: PlanNode[] = [];
  for (const s of spec.nodes) {
    if (byName.has(s.name)) throw refuse(s, 'another layer has the same name');
    const ins = s.inputs.map((i) => {
      const n = byName.get(i);
      if (!n) throw refuse(s, `its input "${i}" is not a layer before it`);
      return n;
    });
    const weight = (kind: WeightKind, optional = false) => {
      const w = weights.get(`${s.name}/${kind}`);
      if (!w && !optional) throw refuse(s, `its weight ${kind} is missing`);
      return w ?? null;
    };
    const node = readNode(s, ins, weight);
    nodes.push(node);
    byName.set(node.name, node);
  }
  const input = byName.get(spec.input);
  const output = byName.get(spec.output);
  if (!input || input.op !== 'input' || nodes.filter((n) => n.op === 'input').length !== 1)
    throw refuse(
      { name: spec.input, className: 'InputLayer' },
      'the plan needs exactly one input layer, named as its input',
    );
  if (!output || output.shape.length !== 1)
    throw refuse(
      { name: spec.output, className: output?.className ?? 'output' },
      output ? `the output has shape [${output.shape.join(', ')}], not [classes]` : 'no such layer',
    );
  return { nodes, input, output };
}

const KINDS: readonly [WeightKind, keyof PlanNode][] = [
  ['kernel', 'kernel'],
  ['bias', 'bias'],
  ['gamma', 'gamma'],
  ['beta', 'beta'],
  ['moving_mean', 'mean'],
  ['moving_variance', 'variance'],
];

/** Any plan as a stored plan: its layers, and its weights in one buffer (weights.bin's layout). */
export function planToSpec(plan: ModelPlan): PlanArtifacts {
  const nodes: PlanNodeSpec[] = [];
  const parts: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const n of plan.nodes) {
    const className = (n.op === 'identity' ? 'Dropout' : n.className) as PlanNodeSpec['className'];
    if (!(className in OPS)) throw new Error(`a plan layer of class ${n.className} cannot be stored`);
    const s: PlanNodeSpec = { name: n.name, className, inputs: [...n.inputs] };
    if (n.op === 'input') s.shape = [...n.shape];
    if (n.op === 'conv' || n.op === 'dense' || (n.op === 'act' && n.className !== 'Softmax'))
      s.activation = n.act;
    if (n.op === 'conv' || n.op === 'pool') s.strides = [...n.strides!];
    if (n.op === 'conv' || n.op === 'pool' || n.op === 'pad') s.pads = [...n.pads!];
    if (n.op === 'pool') s.poolSize = [...n.poolSize!];
    if (n.countPad) s.countPad = true;
    if (n.op === 'bn') Object.assign(s, { epsilon: n.epsilon, momentum: n.momentum });
    if (n.source) s.source = n.source;
    nodes.push(s);
    for (const [kind, field] of KINDS) {
      const data = n[field] as Float32Array | null | undefined;
      if (!data) continue;
      const shape = kind === 'kernel' ? [...n.kernelShape!] : [data.length];
      parts.push({ name: `${n.name}/${kind}`, shape, data });
    }
  }
  return {
    kind: 'plan',
    plan: { input: plan.input.name, output: plan.output, nodes },
    ...packWeights(parts),
  };
}
