// The plan of a tfjs-layers model (topology JSON + weights, what `decomposer train` writes and
// tensorflowjs_converter makes from Keras): each layer class mapped to a plan node, its pads
// computed as tfjs computes them. Layers we cannot express are refused, naming the layer.
import { UserError } from '../../common/errors.ts';
import type { LayersArtifacts } from '../models/io.ts';
import type { Activation, PlanNode, PlanRead } from './plan.ts';
import { checkInputSize, padAxis } from './shapes.ts';

const ACTIVATIONS: readonly string[] = ['linear', 'relu', 'softmax', 'sigmoid', 'tanh'];

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
        checkInputSize(shape as number[]);
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

  return { nodes, input, output };
}
