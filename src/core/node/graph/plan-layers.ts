// The plan of a tfjs-layers model (topology JSON + weights, what `decomposer train` writes and
// tensorflowjs_converter makes from Keras): each layer class mapped to a plan node, its pads
// computed as tfjs computes them. Layers we cannot express are refused, naming the layer.
import { UserError } from '../../common/errors.ts';
import type { LayersArtifacts } from '../models/io.ts';
import type { Activation, PlanNode, PlanRead } from './plan-types.ts';
import { checkInputSize, padAxis } from './shapes.ts';
import { weightViews, type NamedWeight } from './weights.ts';

const ACTIVATIONS: readonly string[] = ['linear', 'relu', 'softmax', 'sigmoid', 'tanh'];

interface LayerJson {
  name?: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

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

/** What a layer's rule reads: its node (filled in by the rule), config, inputs and weights. */
interface LayerContext {
  node: PlanNode;
  name: string;
  cls: string;
  cfg: Record<string, unknown>;
  ins: string[];
  inShape: number[];
  byName: Map<string, PlanNode>;
  /** A weight of this layer ("kernel", "bias", ...); null where optional and absent. */
  weight: (w: string, optional?: boolean) => Float32Array | null;
  /** The layer's activation, refused unless the engines have it. */
  activation: (what: unknown) => Activation;
  /** Refuses an input that is not an image ([H, W, C]). */
  need4: () => void;
  refuse: (why: string) => UserError;
}

/** A window over H and W (Conv2D, pooling): its output size and pads as tfjs computes them. */
function windowed(c: LayerContext, size: [number, number], strides: [number, number]) {
  const padding = (c.cfg.padding ?? 'valid') as string;
  if (padding !== 'same' && padding !== 'valid') throw c.refuse(`padding "${padding}"`);
  const y = padAxis(c.inShape[0]!, size[0], strides[0], padding);
  const x = padAxis(c.inShape[1]!, size[1], strides[1], padding);
  if (y.out < 1 || x.out < 1) throw c.refuse('its output would be empty');
  return { y, x, padding, pads: [y.before, x.before, y.after, x.after] as [number, number, number, number] };
}

/** One rule per layer class: it fills in the plan node from the layer's config and weights. */
const LAYER_RULES: Record<string, (c: LayerContext) => void> = {
  InputLayer(c) {
    const shape = (c.cfg.batch_input_shape as (number | null)[]).slice(1);
    if (shape.some((d) => d === null)) throw c.refuse('its input shape is not fully known');
    if (shape.length !== 3) throw c.refuse(`input shape [${shape.join(', ')}] is not [H, W, C]`);
    checkInputSize(shape as number[]);
    c.node.op = 'input';
    c.node.shape = shape as number[];
  },
  Conv2D(c) {
    c.need4();
    const [kh, kw] = pair(c.cfg.kernel_size);
    const strides = pair(c.cfg.strides, [1, 1]);
    const dil = pair(c.cfg.dilation_rate, [1, 1]);
    if (dil[0] !== 1 || dil[1] !== 1) throw c.refuse(`dilation_rate [${dil.join(', ')}]`);
    if (c.cfg.padding !== 'same' && c.cfg.padding !== 'valid')
      throw c.refuse(`padding "${String(c.cfg.padding)}"`);
    const filters = c.cfg.filters as number;
    const w = windowed(c, [kh, kw], strides);
    Object.assign(c.node, {
      op: 'conv',
      shape: [w.y.out, w.x.out, filters],
      act: c.activation(c.cfg.activation),
      kernel: c.weight('kernel')!,
      kernelShape: [kh, kw, c.inShape[2]!, filters],
      bias: c.cfg.use_bias === false ? null : c.weight('bias'),
      strides,
      padding: w.padding,
      pads: w.pads,
    });
  },
  Dense(c) {
    if (c.inShape.length !== 1)
      throw c.refuse(`its input has shape [${c.inShape.join(', ')}]; only flat inputs are supported`);
    const units = c.cfg.units as number;
    Object.assign(c.node, {
      op: 'dense',
      shape: [units],
      act: c.activation(c.cfg.activation),
      kernel: c.weight('kernel')!,
      kernelShape: [c.inShape[0]!, units],
      bias: c.cfg.use_bias === false ? null : c.weight('bias'),
    });
  },
  Activation(c) {
    c.node.op = 'act';
    c.node.act = c.activation(c.cfg.activation);
  },
  ReLU(c) {
    if (c.cfg.max_value !== null && c.cfg.max_value !== undefined) throw c.refuse('max_value is set');
    c.node.op = 'act';
    c.node.act = 'relu';
  },
  Softmax(c) {
    const axis = (c.cfg.axis ?? -1) as number;
    if (axis !== -1 && axis !== c.inShape.length) throw c.refuse(`axis ${axis} is not the last axis`);
    c.node.op = 'act';
    c.node.act = 'softmax';
  },
  Dropout: dropout,
  SpatialDropout2D: dropout,
  Add(c) {
    for (const i of c.ins)
      if (c.byName.get(i)!.shape.join() !== c.inShape.join())
        throw c.refuse('its inputs differ in shape (broadcasting)');
    c.node.op = 'add';
  },
  BatchNormalization(c) {
    const { cfg } = c;
    const axis = (Array.isArray(cfg.axis) ? cfg.axis[0] : (cfg.axis ?? -1)) as number;
    if (axis !== -1 && axis !== c.inShape.length) throw c.refuse(`axis ${axis} is not the channel axis`);
    const n = c.inShape[c.inShape.length - 1]!;
    Object.assign(c.node, {
      op: 'bn',
      gamma: cfg.scale === false ? new Float32Array(n).fill(1) : c.weight('gamma')!,
      beta: cfg.center === false ? new Float32Array(n) : c.weight('beta')!,
      mean: c.weight('moving_mean')!,
      variance: c.weight('moving_variance')!,
      epsilon: (cfg.epsilon ?? 1e-3) as number,
      momentum: (cfg.momentum ?? 0.99) as number,
    });
  },
  AveragePooling2D: pooling,
  MaxPooling2D: pooling,
  GlobalAveragePooling2D: globalPooling,
  GlobalMaxPooling2D: globalPooling,
  Flatten(c) {
    c.node.op = 'flatten';
    c.node.shape = [c.inShape.reduce((a, b) => a * b, 1)];
  },
};

function dropout(c: LayerContext): void {
  c.node.op = 'identity';
  c.node.rate = (c.cfg.rate ?? 0) as number;
}

function pooling(c: LayerContext): void {
  c.need4();
  const size = pair(c.cfg.pool_size, [2, 2]);
  const strides = pair(c.cfg.strides, size);
  const w = windowed(c, size, strides);
  Object.assign(c.node, {
    op: 'pool',
    pool: c.cls === 'MaxPooling2D' ? 'max' : 'avg',
    shape: [w.y.out, w.x.out, c.inShape[2]!],
    poolSize: size,
    strides,
    padding: w.padding,
    pads: w.pads,
  });
}

function globalPooling(c: LayerContext): void {
  c.need4();
  if (c.cfg.keepdims === true) throw c.refuse('keepdims is set');
  c.node.op = 'gpool';
  c.node.pool = c.cls === 'GlobalMaxPooling2D' ? 'max' : 'avg';
  c.node.shape = [c.inShape[2]!];
}

/** One layer as a plan node, after its inputs (in `byName`). */
function layerNode(l: LayerJson, byName: Map<string, PlanNode>, weights: Map<string, NamedWeight>): PlanNode {
  const name = (l.name ?? l.config.name) as string;
  const cls = l.class_name;
  const cfg = l.config;
  const no = (why: string) => refuse(name, cls, why);
  const inbound = (l.inbound_nodes ?? []) as unknown[][][];
  if (inbound.length > 1) throw no('it is used more than once (shared layer)');
  const ins = (inbound[0] ?? []).map((r) => r[0] as string);
  for (const i of ins) if (!byName.has(i)) throw no(`its input ${i} is not defined before it`);
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
  if (fmt && fmt !== 'channels_last') throw no(`data_format ${fmt} (only channels_last)`);
  const rule = LAYER_RULES[cls];
  if (!rule) throw no('this layer type is not supported');
  rule({
    node,
    name,
    cls,
    cfg,
    ins,
    inShape,
    byName,
    weight: (w, optional = false) => {
      const found = weights.get(`${name}/${w}`);
      if (!found && !optional) throw no(`its weight ${w} is missing`);
      return found?.data ?? null;
    },
    activation: (what) => {
      const a = (what ?? 'linear') as string;
      if (!ACTIVATIONS.includes(a)) throw no(`activation "${a}"`);
      return a as Activation;
    },
    need4: () => {
      if (inShape.length !== 3) throw no(`its input has shape [${inShape.join(', ')}], not [H, W, C]`);
    },
    refuse: no,
  });
  if (node.op !== 'input' && node.op !== 'add' && ins.length !== 1) throw no(`it has ${ins.length} inputs`);
  if (node.op === 'add' && ins.length < 2) throw no('it has fewer than 2 inputs');
  if (node.act === 'softmax' && node.shape.length !== 1 && node.shape.length !== 3)
    throw no('softmax over this shape');
  return node;
}

/** The nodes of a tfjs-layers model; throws UserError naming the first layer it cannot express. */
export function planLayers(artifacts: LayersArtifacts): PlanRead {
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
  const weights = weightViews(artifacts.weightSpecs, artifacts.weightData);
  // Refuse unknown layer types first, so the message names the layer rather than a shape.
  for (const l of layers) {
    if (!Object.hasOwn(LAYER_RULES, l.class_name)) {
      throw refuse((l.name ?? l.config.name) as string, l.class_name, 'this layer type is not supported');
    }
  }
  const nodes: PlanNode[] = [];
  const byName = new Map<string, PlanNode>();
  for (const l of layers) {
    const node = layerNode(l, byName, weights);
    nodes.push(node);
    byName.set(node.name, node);
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
  return { nodes, input, output };
}
