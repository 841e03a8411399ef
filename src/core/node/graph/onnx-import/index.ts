// ONNX to plan: an ONNX CNN classifier (what torch.onnx.export, tf2onnx and Keras 3 write)
// read into the layer plan every engine runs (graph/plan.ts), as a stored plan ready to be a
// model folder. The file's one input is an image (NCHW, or NHWC behind tf2onnx's Transpose);
// its output is the class scores (logits get a softmax, a log-softmax becomes one). Anything
// the rules do not cover is refused in one message that names every operator and node and
// what to do; nothing is approximated.
import path from 'node:path';
import { UserError } from '../../../common/errors.ts';
import type { PlanArtifacts } from '../../models/io.ts';
import type { PlanNodeSpec } from '../../models/schema.ts';
import { planModel } from '../plan.ts';
import { checkInputSize } from '../shapes.ts';
import { packWeights } from '../weights.ts';
import type { WeightKind } from './context.ts';
import { readOnnx, type OnnxModel, type ValueInfo } from './model.ts';
import { SUPPORTED_OPERATORS } from './registry.ts';
import { translateGraph, type Layer } from './translate.ts';
import type { ImageValue } from './values.ts';

/** The operator sets whose operators the rules know (PyTorch exports 7 to 17; tf2onnx 15 by default). */
export const OPSETS = { min: 7, max: 22 };

export interface ImportOptions {
  /** Where the file was read (its folder holds any external data). */
  file: string;
  /** The input's layout; default: read from the input's shape. */
  layout?: 'nchw' | 'nhwc';
}

export interface ImportedOnnx {
  artifacts: PlanArtifacts;
  /** [H, W, C]. */
  inputShape: [number, number, number];
  classes: number;
  layout: 'nchw' | 'nhwc';
  output: 'logits' | 'probabilities' | 'log-probabilities';
  batchNorm: 'present' | 'folded' | 'none';
  producer: { name: string; version: string };
  opset: number;
  irVersion: number;
  warnings: string[];
}

const fail = (file: string, what: string, hint: string, code = 'unsupported-onnx') =>
  new UserError(`${file} cannot be imported: ${what}`, `${hint} Nothing was written.`, code);

/** The file's image input: its layout, size and channels, or one refusal saying why not. */
function imageInput(model: OnnxModel, shown: string, given?: 'nchw' | 'nhwc') {
  if (model.inputs.length !== 1)
    throw fail(
      shown,
      `the model takes ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')}); a classifier takes one image.`,
      'Export the model with one image input.',
    );
  if (model.outputs.length !== 1)
    throw fail(
      shown,
      `the model has ${model.outputs.length} outputs (${model.outputs.map((o) => o.name).join(', ')}); a classifier has one, its class scores.`,
      'Export the model with its class scores as the only output.',
    );
  const input: ValueInfo = model.inputs[0]!;
  const dims = input.dims ?? [];
  const shown4 = `[${dims.join(', ')}]`;
  if (dims.length !== 4)
    throw fail(
      shown,
      `its input ${input.name} is ${shown4}, not an image ([N, C, H, W] or [N, H, W, C]).`,
      'Decomposer imports image classifiers (CNNs).',
    );
  if (input.elemType !== 1)
    throw fail(
      shown,
      `its input ${input.name} is not float32 (ONNX type ${input.elemType}).`,
      'Export the model with a float32 input.',
    );
  const isCh = (d: number | string | undefined) => d === 1 || d === 3;
  const transposed = model.nodes.some(
    (n) =>
      n.opType === 'Transpose' &&
      n.inputs[0] === input.name &&
      n.attrs.get('perm')?.ints?.join() === '0,3,1,2',
  );
  const layout: 'nchw' | 'nhwc' =
    given ??
    (isCh(dims[1]) && !isCh(dims[3])
      ? 'nchw'
      : isCh(dims[3]) && !isCh(dims[1])
        ? 'nhwc'
        : transposed
          ? 'nhwc'
          : 'nchw');
  const [h, w, c] = layout === 'nchw' ? [dims[2], dims[3], dims[1]] : [dims[1], dims[2], dims[3]];
  if (typeof h !== 'number' || typeof w !== 'number' || typeof c !== 'number')
    throw fail(
      shown,
      `its input ${input.name} is ${shown4}: its size is not fixed.`,
      'Export the model with a fixed image size (only the batch may vary).',
    );
  if (!isCh(c))
    throw fail(
      shown,
      `its input ${input.name} is ${shown4}: ${c}-channel images read as ${layout.toUpperCase()}; Decomposer feeds grey (1 channel) or RGB (3 channels) images.`,
      `If the layout was misread, give --layout ${layout === 'nchw' ? 'nhwc' : 'nchw'}.`,
    );
  if (h !== w)
    throw fail(
      shown,
      `its input ${input.name} is ${shown4}: ${h}x${w} images are not square.`,
      'Export the model with a square input (as it was trained, e.g. 32x32 or 224x224).',
    );
  checkInputSize([h, w, c]);
  const batch = typeof dims[0] === 'number' ? dims[0] : null;
  return { input, layout, shape: [h, w, c] as [number, number, number], batch };
}

/** Whether the exporter folded batch normalisation into the convolutions (PyTorch's default, tf2onnx's optimizer). */
function batchNormOf(model: OnnxModel): ImportedOnnx['batchNorm'] {
  if (model.nodes.some((n) => n.opType === 'BatchNormalization')) return 'present';
  const folded = model.nodes.some(
    (n) =>
      n.opType === 'Conv' && n.inputs.slice(1).some((i) => /^onnx::Conv_\d+$/.test(i) || /fused_bn/.test(i)),
  );
  return folded ? 'folded' : 'none';
}

/** Only what the output needs, in order. */
function reachable(layers: Layer[], output: string): Layer[] {
  const byName = new Map(layers.map((l) => [l.spec.name, l]));
  const keep = new Set<string>();
  const stack = [output];
  while (stack.length) {
    const n = stack.pop()!;
    if (keep.has(n)) continue;
    keep.add(n);
    stack.push(...(byName.get(n)?.spec.inputs ?? []));
  }
  return layers.filter((l) => keep.has(l.spec.name));
}

const KINDS: readonly WeightKind[] = ['kernel', 'bias', 'gamma', 'beta', 'moving_mean', 'moving_variance'];

function artifactsOf(layers: Layer[], input: string, output: string): PlanArtifacts {
  const parts = layers.flatMap((l) =>
    KINDS.flatMap((kind) => {
      const w = l.weights[kind];
      return w ? [{ name: `${l.spec.name}/${kind}`, shape: w.shape, data: w.data }] : [];
    }),
  );
  return { kind: 'plan', plan: { input, output, nodes: layers.map((l) => l.spec) }, ...packWeights(parts) };
}

/** Reads an ONNX file's bytes into a stored plan; throws one UserError for anything it cannot. */
export async function importOnnx(bytes: Uint8Array, opts: ImportOptions): Promise<ImportedOnnx> {
  const shown = path.basename(opts.file);
  const model = await readOnnx(bytes, opts.file, shown);
  if (model.opset < OPSETS.min || model.opset > OPSETS.max)
    throw fail(
      shown,
      `it uses ONNX operator set ${model.opset}; the importer reads ${OPSETS.min} to ${OPSETS.max}.`,
      'Export the model again with opset_version between 11 and 17 (torch.onnx.export, tf2onnx --opset).',
    );
  const { input, layout, shape, batch } = imageInput(model, shown, opts.layout);
  const inputName = input.name;
  const inputLayer: Layer = {
    spec: { name: inputName, className: 'InputLayer', inputs: [], shape },
    weights: {},
  };
  const value: ImageValue = { kind: 'image', node: inputName, layout, shape };
  const t = translateGraph(model, { name: inputName, value, layer: inputLayer }, batch);
  const outName = model.outputs[0]!.name;
  const out = t.values.get(outName);
  if (t.refused.length)
    throw fail(
      shown,
      `${t.refused.length === 1 ? 'this node is' : `these ${t.refused.length} nodes are`} not supported: ${t.refused.join('; ')}.`,
      `Decomposer imports CNN classifiers made of ${SUPPORTED_OPERATORS}. Replace or remove those layers in the model (a normalisation in the graph can be given as --mean and --std instead) and export it again.`,
    );
  if (out?.kind !== 'flat' || out.perm)
    throw fail(
      shown,
      `its output ${outName} is ${out ? (out.kind === 'flat' ? 'a vector in another order than the features it was computed from' : 'not a vector of class scores') : 'not computed'}.`,
      'Export a classifier whose output is [N, classes].',
    );
  let layers = reachable(t.layers, out.node);
  const last = layers.find((l) => l.spec.name === out.node)!;
  const producer = model.nodes.find((n) => n.outputs.includes(outName));
  let output: ImportedOnnx['output'] = 'probabilities';
  let outputNode = out.node;
  if (last.spec.className !== 'Softmax') {
    // Logits: the softmax every command reads probabilities from.
    output = 'logits';
    outputNode = `${out.node}/softmax`;
    const spec: PlanNodeSpec = {
      name: outputNode,
      className: 'Softmax',
      inputs: [out.node],
      source: 'softmax added to the logits',
    };
    layers = [...layers, { spec, weights: {} }];
  } else if (producer?.opType === 'LogSoftmax') output = 'log-probabilities';
  const artifacts = artifactsOf(layers, inputName, outputNode);
  const plan = planModel(artifacts); // the stored plan reads back (shapes add up)
  return {
    artifacts,
    inputShape: shape,
    classes: plan.classes,
    layout,
    output,
    batchNorm: batchNormOf(model),
    producer: model.producer,
    opset: model.opset,
    irVersion: model.irVersion,
    warnings: t.warnings,
  };
}
