// The model plan: one representation of a model's layers, read here from a tfjs-layers model
// (topology JSON + weights), that both inference engines run and the training graphs are
// built from: layers in topological order with their shapes (NHWC, without the batch axis),
// explicit paddings and weights. Layers we cannot express are refused here, naming the
// layer, so every engine accepts exactly the same models.
import { createHash } from 'node:crypto';
import { INPUT_CHANNELS, INPUT_SIDE, within } from '../../common/bounds.ts';
import { UserError } from '../../common/errors.ts';
import type { ModelArtifacts } from '../models/io.ts';

export type Activation = 'linear' | 'relu' | 'softmax' | 'sigmoid' | 'tanh';
const ACTIVATIONS: readonly string[] = ['linear', 'relu', 'softmax', 'sigmoid', 'tanh'];

export type PlanOp =
  'input' | 'conv' | 'dense' | 'act' | 'add' | 'bn' | 'pool' | 'gpool' | 'flatten' | 'identity';

export interface PlanNode {
  name: string;
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
  /** tfjs padding mode ('same' or 'valid') and its explicit pads [top, left, bottom, right]. */
  padding?: 'same' | 'valid';
  pads?: [number, number, number, number];
  pool?: 'avg' | 'max';
  poolSize?: [number, number];
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
}

export interface ModelPlan {
  nodes: PlanNode[];
  input: { name: string; shape: number[] };
  output: string;
  classes: number;
  /** Layers whose output can be masked (Conv2D and Dense), with the mask's shape. */
  maskable: { name: string; shape: number[] }[];
  /** What observe() reports at each point: key (layer name), the node whose value is observed, shape. */
  observed: Record<'conv' | 'relu', { name: string; shape: number[] }[]>;
  /** sha256 of the topology and weights: the session cache key. */
  hash: string;
}

interface LayerJson {
  name?: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

const SUPPORTED = new Set([
  'InputLayer',
  'Conv2D',
  'Dense',
  'Activation',
  'ReLU',
  'Softmax',
  'Dropout',
  'SpatialDropout2D',
  'Add',
  'BatchNormalization',
  'AveragePooling2D',
  'MaxPooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Flatten',
]);

function refuse(layer: string, className: string, why: string): UserError {
  return new UserError(
    `Layer "${layer}" (${className}) cannot be run by the inference engines: ${why}.`,
    'Supported: InputLayer, Conv2D (no dilation), Dense, Activation/ReLU, Add, BatchNormalization, AveragePooling2D, MaxPooling2D, GlobalAverage/MaxPooling2D, Flatten, Softmax, Dropout.',
    'unsupported-layer',
  );
}

const pair = (v: unknown, fallback?: [number, number]): [number, number] => {
  if (v === null || v === undefined) return fallback!;
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0]!, a[1] ?? a[0]!];
};

/** Output size and explicit pads along one axis, exactly as tfjs computes them. */
export function padAxis(
  size: number,
  k: number,
  stride: number,
  padding: 'same' | 'valid',
): { out: number; before: number; after: number } {
  if (padding === 'valid') return { out: Math.ceil((size - k + 1) / stride), before: 0, after: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + k - size);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

function layerList(topology: Record<string, unknown>): {
  layers: LayerJson[];
  inputs: string[];
  outputs: string[];
} {
  const cls = topology.class_name as string;
  const config = topology.config as Record<string, unknown> | LayerJson[];
  if (cls === 'Sequential') {
    const seq = (Array.isArray(config) ? config : (config.layers as LayerJson[])).map((l) => ({ ...l }));
    const first = seq[0]?.config ?? {};
    const out: LayerJson[] = [];
    let prev: string;
    if (seq[0]?.class_name === 'InputLayer') {
      prev = seq[0].config.name as string;
      out.push({ ...seq.shift()!, name: prev, inbound_nodes: [] });
    } else {
      prev = `${(first.name as string) ?? 'input'}_input`;
      out.push({
        name: prev,
        class_name: 'InputLayer',
        config: { batch_input_shape: first.batch_input_shape, name: prev },
        inbound_nodes: [],
      });
    }
    for (const l of seq) {
      const name = l.config.name as string;
      out.push({ ...l, name, inbound_nodes: [[[prev, 0, 0, {}]]] });
      prev = name;
    }
    return { layers: out, inputs: [out[0]!.name!], outputs: [prev] };
  }
  if (cls !== 'Model' && cls !== 'Functional') {
    throw new UserError(`A model of class ${cls} cannot be run.`, 'Use a tfjs-layers model.', 'bad-model');
  }
  const c = config as Record<string, unknown>;
  const ref = (r: unknown[]) => r[0] as string;
  return {
    layers: c.layers as LayerJson[],
    inputs: (c.input_layers as unknown[][]).map(ref),
    outputs: (c.output_layers as unknown[][]).map(ref),
  };
}

/** Builds the plan of a model; throws UserError naming the first layer it cannot express. */
export function planModel(artifacts: ModelArtifacts): ModelPlan {
  const topo = artifacts.topology as Record<string, unknown>;
  const { layers, inputs, outputs } = layerList(
    (topo.model_config as Record<string, unknown> | undefined) ?? topo,
  );
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw new UserError(
      `The model has ${inputs.length} inputs and ${outputs.length} outputs.`,
      'Only models with one image input and one output can be run.',
      'unsupported-model',
    );
  }
  // Weights by name ("layer/kernel"), viewed in place.
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  let off = 0;
  for (const s of artifacts.weightSpecs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (s.dtype && s.dtype !== 'float32') {
      throw new UserError(
        `Weight ${s.name} is ${s.dtype}.`,
        'Only float32 weights are supported.',
        'bad-model',
      );
    }
    weights.set(s.name, { shape: s.shape, data: new Float32Array(artifacts.weightData, off, n) });
    off += n * 4;
  }
  const weight = (layer: string, w: string, className: string, optional = false) => {
    const found = weights.get(`${layer}/${w}`);
    if (!found && !optional) throw refuse(layer, className, `its weight ${w} is missing`);
    return found?.data ?? null;
  };

  // Refuse unknown layer types first, so the message names the layer rather than a shape.
  for (const l of layers) {
    if (!SUPPORTED.has(l.class_name)) {
      throw refuse((l.name ?? l.config.name) as string, l.class_name, 'this layer type is not supported');
    }
  }
  const nodes: PlanNode[] = [];
  const byName = new Map<string, PlanNode>();
  for (const l of layers) {
    const name = (l.name ?? l.config.name) as string;
    const cls = l.class_name;
    const cfg = l.config;
    const inbound = (l.inbound_nodes ?? []) as unknown[][][];
    if (inbound.length > 1) throw refuse(name, cls, 'it is used more than once (shared layer)');
    const ins = (inbound[0] ?? []).map((r) => r[0] as string);
    for (const i of ins)
      if (!byName.has(i)) throw refuse(name, cls, `its input ${i} is not defined before it`);
    const inShape = ins.length ? byName.get(ins[0]!)!.shape : [];
    const node: PlanNode = {
      name,
      className: cls,
      op: 'identity',
      inputs: ins,
      shape: inShape,
      inShape,
      act: 'linear',
    };
    if (cfg.trainable === false) node.frozen = true;
    const fmt = cfg.data_format as string | undefined;
    if (fmt && fmt !== 'channels_last') throw refuse(name, cls, `data_format ${fmt} (only channels_last)`);
    const activation = (what: unknown): Activation => {
      const a = (what ?? 'linear') as string;
      if (!ACTIVATIONS.includes(a)) throw refuse(name, cls, `activation "${a}"`);
      return a as Activation;
    };
    const need4 = () => {
      if (inShape.length !== 3)
        throw refuse(name, cls, `its input has shape [${inShape.join(', ')}], not [H, W, C]`);
    };
    switch (cls) {
      case 'InputLayer': {
        const shape = (cfg.batch_input_shape as (number | null)[]).slice(1);
        if (shape.some((d) => d === null)) throw refuse(name, cls, 'its input shape is not fully known');
        if (shape.length !== 3) throw refuse(name, cls, `input shape [${shape.join(', ')}] is not [H, W, C]`);
        // Refused before any buffer of the input's size is allocated.
        if (
          !within(INPUT_SIDE, shape[0]) ||
          !within(INPUT_SIDE, shape[1]) ||
          !within(INPUT_CHANNELS, shape[2])
        )
          throw new UserError(
            `The model takes ${shape.join('x')} inputs; Decomposer runs models whose input sides are ${INPUT_SIDE.range} pixels, with ${INPUT_CHANNELS.range} channels.`,
            'Use a model trained on smaller images (or resize its input and retrain it).',
            'unsupported-model',
          );
        node.op = 'input';
        node.shape = shape as number[];
        break;
      }
      case 'Conv2D': {
        need4();
        const [kh, kw] = pair(cfg.kernel_size);
        const strides = pair(cfg.strides, [1, 1]);
        const dil = pair(cfg.dilation_rate, [1, 1]);
        if (dil[0] !== 1 || dil[1] !== 1) throw refuse(name, cls, `dilation_rate [${dil.join(', ')}]`);
        const padding = cfg.padding as string;
        if (padding !== 'same' && padding !== 'valid') throw refuse(name, cls, `padding "${padding}"`);
        const filters = cfg.filters as number;
        const y = padAxis(inShape[0]!, kh, strides[0], padding);
        const x = padAxis(inShape[1]!, kw, strides[1], padding);
        if (y.out < 1 || x.out < 1) throw refuse(name, cls, 'its output would be empty');
        Object.assign(node, {
          op: 'conv',
          shape: [y.out, x.out, filters],
          act: activation(cfg.activation),
          kernel: weight(name, 'kernel', cls)!,
          kernelShape: [kh, kw, inShape[2]!, filters],
          bias: cfg.use_bias === false ? null : weight(name, 'bias', cls),
          strides,
          padding,
          pads: [y.before, x.before, y.after, x.after],
        });
        break;
      }
      case 'Dense': {
        if (inShape.length !== 1) {
          throw refuse(
            name,
            cls,
            `its input has shape [${inShape.join(', ')}]; only flat inputs are supported`,
          );
        }
        const units = cfg.units as number;
        Object.assign(node, {
          op: 'dense',
          shape: [units],
          act: activation(cfg.activation),
          kernel: weight(name, 'kernel', cls)!,
          kernelShape: [inShape[0]!, units],
          bias: cfg.use_bias === false ? null : weight(name, 'bias', cls),
        });
        break;
      }
      case 'Activation':
        node.op = 'act';
        node.act = activation(cfg.activation);
        break;
      case 'ReLU':
        if (cfg.max_value !== null && cfg.max_value !== undefined)
          throw refuse(name, cls, 'max_value is set');
        node.op = 'act';
        node.act = 'relu';
        break;
      case 'Softmax': {
        const axis = (cfg.axis ?? -1) as number;
        if (axis !== -1 && axis !== inShape.length)
          throw refuse(name, cls, `axis ${axis} is not the last axis`);
        node.op = 'act';
        node.act = 'softmax';
        break;
      }
      case 'Dropout':
      case 'SpatialDropout2D':
        node.op = 'identity';
        node.rate = (cfg.rate ?? 0) as number;
        break;
      case 'Add': {
        for (const i of ins) {
          const s = byName.get(i)!.shape;
          if (s.join() !== inShape.join())
            throw refuse(name, cls, 'its inputs differ in shape (broadcasting)');
        }
        node.op = 'add';
        break;
      }
      case 'BatchNormalization': {
        const axis = (Array.isArray(cfg.axis) ? cfg.axis[0] : (cfg.axis ?? -1)) as number;
        if (axis !== -1 && axis !== inShape.length)
          throw refuse(name, cls, `axis ${axis} is not the channel axis`);
        const c = inShape[inShape.length - 1]!;
        Object.assign(node, {
          op: 'bn',
          gamma: cfg.scale === false ? new Float32Array(c).fill(1) : weight(name, 'gamma', cls)!,
          beta: cfg.center === false ? new Float32Array(c) : weight(name, 'beta', cls)!,
          mean: weight(name, 'moving_mean', cls)!,
          variance: weight(name, 'moving_variance', cls)!,
          epsilon: (cfg.epsilon ?? 1e-3) as number,
          momentum: (cfg.momentum ?? 0.99) as number,
        });
        break;
      }
      case 'AveragePooling2D':
      case 'MaxPooling2D': {
        need4();
        const size = pair(cfg.pool_size, [2, 2]);
        const strides = pair(cfg.strides, size);
        const padding = (cfg.padding ?? 'valid') as string;
        if (padding !== 'same' && padding !== 'valid') throw refuse(name, cls, `padding "${padding}"`);
        const y = padAxis(inShape[0]!, size[0], strides[0], padding);
        const x = padAxis(inShape[1]!, size[1], strides[1], padding);
        if (y.out < 1 || x.out < 1) throw refuse(name, cls, 'its output would be empty');
        Object.assign(node, {
          op: 'pool',
          pool: cls === 'MaxPooling2D' ? 'max' : 'avg',
          shape: [y.out, x.out, inShape[2]!],
          poolSize: size,
          strides,
          padding,
          pads: [y.before, x.before, y.after, x.after],
        });
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        need4();
        if (cfg.keepdims === true) throw refuse(name, cls, 'keepdims is set');
        node.op = 'gpool';
        node.pool = cls === 'GlobalMaxPooling2D' ? 'max' : 'avg';
        node.shape = [inShape[2]!];
        break;
      case 'Flatten':
        node.op = 'flatten';
        node.shape = [inShape.reduce((a, b) => a * b, 1)];
        break;
      default:
        throw refuse(name, cls, 'this layer type is not supported');
    }
    if (node.op !== 'input' && node.op !== 'add' && ins.length !== 1) {
      throw refuse(name, cls, `it has ${ins.length} inputs`);
    }
    if (node.op === 'add' && ins.length < 2) throw refuse(name, cls, 'it has fewer than 2 inputs');
    if (node.act === 'softmax' && node.shape.length !== 1 && node.shape.length !== 3) {
      throw refuse(name, cls, 'softmax over this shape');
    }
    nodes.push(node);
    byName.set(name, node);
  }
  const input = byName.get(inputs[0]!);
  const output = byName.get(outputs[0]!);
  if (!input || input.op !== 'input' || !output) {
    throw new UserError('The model topology is inconsistent.', 'Save the model again.', 'bad-model');
  }
  if (output.shape.length !== 1) {
    throw new UserError(
      `The model's output has shape [${output.shape.join(', ')}], not [classes].`,
      'Only classifiers with a flat output can be run.',
      'unsupported-model',
    );
  }

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
  const conv = nodes
    .filter((n) => n.op === 'conv' || (n.op === 'dense' && feedsWeighted.get(n.name)))
    .map((n) => ({ name: n.name, shape: n.shape }));
  const relu = nodes
    .filter((n) => n.act === 'relu' && n.op !== 'input')
    .map((n) => ({ name: n.name, shape: n.op === 'act' ? byName.get(n.inputs[0]!)!.shape : n.shape }));

  const h = createHash('sha256');
  h.update(JSON.stringify(artifacts.topology));
  h.update(JSON.stringify(artifacts.weightSpecs));
  h.update(new Uint8Array(artifacts.weightData));
  return {
    nodes,
    input: { name: input.name, shape: input.shape },
    output: output.name,
    classes: output.shape[0]!,
    maskable,
    observed: { conv, relu },
    hash: h.digest('hex'),
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
