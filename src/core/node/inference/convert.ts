// Converts a model plan (our tfjs-layers models) into an ONNX graph, opset 17, encoded with
// protobufjs against the ONNX schema.
//
// Conventions (shared with the tfjs engine, see index.ts):
// - Input "pixels": uint8 [N, H, W, P] (NHWC, as images are stored: P = 3, RGB, for a 1- or
//   3-channel model, else the model's channels); the graph does the
//   preprocessing itself, as graph/inputs.ts's toInputs does (a grey model's rounded luma,
//   then pixel * scale[c] + shift[c]). With `input: 'float'` the input is "inputs", float
//   [N, H, W, C] (the model's channels), already preprocessed.
// - Inside, tensors are NCHW: one Transpose after the input; Flatten transposes back to
//   NHWC first so Dense kernels see tfjs's flatten order. Conv kernels [kh,kw,in,out] become
//   [out,in,kh,kw]; Dense kernels [in,out] feed Gemm unchanged.
// - Padding is explicit (pads [top, left, bottom, right]) as tfjs computes it: 'same' with
//   an odd total puts the extra row/column at the bottom/right.
// - Masks (`masks: true`): one float input "mask/<layer>" per Conv2D and Dense layer, shaped
//   like the layer's output without the batch axis in tfjs's layout ([H, W, C] or [units]).
//   It multiplies the layer's output (after the bias, before the fused activation). All
//   ones is the plain model.
// - Observation (`observe: 'conv' | 'relu'`): outputs "active/<key>", uint8 shaped like the
//   observed value without the batch axis ([H, W, C] or [units]), 1 where the value was > 0
//   for any image of the batch. 'conv': the (masked) output of every Conv2D and of every
//   Dense with a Conv2D/Dense downstream, key = that layer. 'relu': the input of every ReLU,
//   key = the Activation/ReLU layer, or the Conv2D/Dense whose fused activation is relu.
//   The observing graph outputs only these (no probabilities).
// - Portable modules (`modules`): each module's masks baked in as constants (a layer whose
//   mask removes nothing gets no Mul) and its two-node head in place of the output layer:
//   Gemm over the head's input with [w_c, w_uc] (removed head inputs zeroed), Softmax, and
//   the concerned column. One module: output "probability" [N]; several (a composed
//   classifier): one backbone pass per module sharing the weights, output "probabilities"
//   [N, modules]. No mask inputs, one uint8 input: any ONNX runtime can run it.
//   A single module's file is made smaller: a Conv2D output channel removed at every
//   position whose value only reaches other convolutions (through ReLUs) is dropped from
//   that layer's kernel and bias and from its readers' kernels (it is 0 there, so nothing
//   changes). A composed classifier keeps every channel so its module passes share weights.
import type { Preprocess } from '../models/io.ts';
import { channelScales, LUMA, pixelChannels } from '../graph/inputs.ts';
import { DataType, encodeGraph, float, int, ints, valueInfo, type Attr } from '../graph/onnx-proto.ts';
import { headNode, type Activation, type ModelPlan, type PlanNode } from '../graph/plan.ts';

export interface ConvertOptions {
  input?: 'uint8' | 'float';
  /** Required for uint8 input. */
  preprocess?: Preprocess;
  masks?: boolean;
  observe?: 'conv' | 'relu' | null;
  /**
   * Output "features" (float [N, F]) instead of the probabilities: the value that feeds the
   * output Dense layer (the head), e.g. the global pooling's output. Decomposition's
   * two-node heads are computed from it.
   */
  features?: boolean;
  /** Portable modules: masks and two-node heads baked in (see above). */
  modules?: PortableModule[];
}

/** A module as exported: per mask layer 1 = removed ([H, W, C] or [units]), and its head. */
export interface PortableModule {
  removed: Map<string, Uint8Array>;
  head: { wc: Float32Array; wuc: Float32Array; bc: number; buc: number; keep: Uint8Array };
}

export const PIXELS = 'pixels';
export const INPUTS = 'inputs';
export const PROBS = 'probs';
export const FEATURES = 'features';
export const PROBABILITY = 'probability';
export const PROBABILITIES = 'probabilities';
export const maskInput = (layer: string) => `mask/${layer}`;
export const activeOutput = (layer: string) => `active/${layer}`;

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** [kh, kw, in, out] -> [out, in, kh, kw]. */
function convKernel(k: Float32Array, [kh, kw, ci, co]: number[]): Float32Array {
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (let i = 0; i < ci!; i++)
        for (let o = 0; o < co!; o++)
          out[((o * ci! + i) * kh! + y) * kw! + x] = k[((y * kw! + x) * ci! + i) * co! + o]!;
  return out;
}

/** A tfjs conv kernel [kh, kw, in, out] restricted to the given input and output channels. */
function sliceConvKernel(
  k: Float32Array,
  [kh, kw, ci, co]: number[],
  ins: number[],
  outs: number[],
): Float32Array {
  const out = new Float32Array(kh! * kw! * ins.length * outs.length);
  let p = 0;
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (const i of ins) for (const o of outs) out[p++] = k[((y * kw! + x) * ci! + i) * co! + o]!;
  return out;
}

/**
 * Per Conv2D layer, the output channels a single module's export keeps: all but those
 * removed at every position whose value reaches only convolutions (through ReLUs and
 * identity layers). Layers that drop nothing are absent.
 */
function droppableChannels(plan: ModelPlan, m: PortableModule): Map<string, number[]> {
  const consumers = new Map<string, PlanNode[]>();
  for (const n of plan.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const onlyConvs = (name: string): boolean =>
    (consumers.get(name) ?? []).every(
      (c) =>
        (c.op === 'conv' && c.inputs.length === 1) ||
        (((c.op === 'act' && c.act === 'relu') || c.op === 'identity') &&
          name !== plan.output &&
          onlyConvs(c.name)),
    ) && (consumers.get(name) ?? []).length > 0;
  const out = new Map<string, number[]>();
  for (const n of plan.nodes) {
    if (n.op !== 'conv' || (n.act !== 'relu' && n.act !== 'linear')) continue;
    const removed = m.removed.get(n.name);
    if (!removed || !onlyConvs(n.name)) continue;
    const [h, w, c] = n.shape as [number, number, number];
    const keep: number[] = [];
    for (let ch = 0; ch < c; ch++) {
      let all = true;
      for (let p = 0; p < h * w && all; p++) all = removed[p * c + ch] === 1;
      if (!all) keep.push(ch);
    }
    if (keep.length === 0) keep.push(0); // a layer keeps one channel (of zeros) to stay valid
    if (keep.length < c) out.set(n.name, keep);
  }
  return out;
}

export function convertToOnnx(plan: ModelPlan, opts: ConvertOptions = {}): Uint8Array {
  const uint8 = (opts.input ?? 'uint8') === 'uint8';
  const nodes: object[] = [];
  const initializer: object[] = [];
  const inputs: object[] = [];
  const outputs: object[] = [];
  const alias = new Map<string, string>();
  const val = (layer: string) => alias.get(layer)!;
  let counter = 0;
  const node = (opType: string, ins: string[], out: string, attribute: Attr[] = []) => {
    nodes.push({ opType, input: ins, output: [out], name: `${opType}_${counter++}`, attribute });
    return out;
  };
  const initialized = new Set<string>();
  const init = (name: string, dims: number[], data: Float32Array) => {
    // A composed classifier's module passes share the weights.
    if (!initialized.has(name))
      initializer.push({ name, dims, dataType: DataType.FLOAT, rawData: bytesOf(data) });
    initialized.add(name);
    return name;
  };
  const scalar = (name: string, v: number) => init(name, [], new Float32Array([v]));

  const activate = (x: string, act: Activation, shape: number[], out: string): string => {
    switch (act) {
      case 'linear':
        return x;
      case 'relu':
        return node('Relu', [x], out);
      case 'relu6':
        return node('Clip', [x, scalar('const/zero', 0), scalar('const/six', 6)], out);
      case 'sigmoid':
        return node('Sigmoid', [x], out);
      case 'tanh':
        return node('Tanh', [x], out);
      case 'softmax':
        // Channels are axis 1 both in NCHW and in [N, units].
        void shape;
        return node('Softmax', [x], out, [int('axis', 1)]);
    }
  };
  const observeValue = (key: string, x: string, shape: number[]) => {
    let m = node('ReduceMax', [x], `obs/${key}/max`, [ints('axes', [0]), int('keepdims', 0)]);
    if (shape.length === 3) m = node('Transpose', [m], `obs/${key}/hwc`, [ints('perm', [1, 2, 0])]);
    const g = node('Greater', [m, scalar('const/zero', 0)], `obs/${key}/gt`);
    const out = node('Cast', [g], activeOutput(key), [int('to', DataType.UINT8)]);
    outputs.push(valueInfo(out, DataType.UINT8, shape));
  };
  // The module whose masks the current pass bakes in, and its value-name prefix.
  let module: PortableModule | null = null;
  let prefix = '';
  // A single module's dropped channels: per conv layer the output channels kept, and per
  // value the channels it carries (absent: all).
  const kept =
    opts.modules?.length === 1 ? droppableChannels(plan, opts.modules[0]!) : new Map<string, number[]>();
  const carried = new Map<string, number[]>();
  // A baked mask is stored as bytes (a quarter of the floats) and cast once per pass.
  const bakedMask = (layer: string, dims: number[], keep: Uint8Array): string => {
    const name = `${prefix}mask/${layer}`;
    initializer.push({ name: `${name}/u8`, dims, dataType: DataType.UINT8, rawData: keep });
    return node('Cast', [`${name}/u8`], name, [int('to', DataType.FLOAT)]);
  };
  const maskValue = (n: PlanNode): string | null => {
    if (module) {
      const removed = module.removed.get(n.name);
      if (!removed || !removed.includes(1)) return null;
      // Kept = 1 - removed, laid out as the tensor it multiplies (CHW without the batch).
      if (n.shape.length === 3) {
        const [h, w, c] = n.shape as [number, number, number];
        const chans = kept.get(n.name) ?? Array.from({ length: c }, (_, i) => i);
        const keep = new Uint8Array(chans.length * h * w);
        chans.forEach((ch, k) => {
          for (let y = 0; y < h; y++)
            for (let x = 0; x < w; x++) keep[(k * h + y) * w + x] = 1 - removed[(y * w + x) * c + ch]!;
        });
        return bakedMask(n.name, [chans.length, h, w], keep);
      }
      return bakedMask(
        n.name,
        n.shape,
        Uint8Array.from(removed, (r) => 1 - r),
      );
    }
    const m = maskInput(n.name);
    inputs.push(valueInfo(m, DataType.FLOAT, n.shape));
    return n.shape.length === 3 ? node('Transpose', [m], `${m}/chw`, [ints('perm', [2, 0, 1])]) : m;
  };
  const int64s = (name: string, v: number[]) => {
    if (!initialized.has(name))
      initializer.push({
        name,
        dims: [v.length],
        dataType: DataType.INT64,
        rawData: new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer),
      });
    initialized.add(name);
    return name;
  };
  /** A module's two-node head over the head's input: its concerned probability, [N, 1]. */
  const moduleHead = (m: PortableModule, features: string): string => {
    const f = m.head.wc.length;
    const w = new Float32Array(f * 2);
    for (let i = 0; i < f; i++) {
      if (!m.head.keep[i]) continue;
      w[2 * i] = m.head.wc[i]!;
      w[2 * i + 1] = m.head.wuc[i]!;
    }
    const z = node(
      'Gemm',
      [
        features,
        init(`${prefix}head/kernel`, [f, 2], w),
        init(`${prefix}head/bias`, [2], Float32Array.of(m.head.bc, m.head.buc)),
      ],
      `${prefix}head/logits`,
    );
    const p = node('Softmax', [z], `${prefix}head/softmax`, [int('axis', 1)]);
    return node(
      'Slice',
      [p, int64s('const/zero1', [0]), int64s('const/one1', [1]), int64s('const/one1', [1])],
      `${prefix}head/concerned`,
    );
  };
  const observeConv = new Set(opts.observe === 'conv' ? plan.observed.conv.map((o) => o.name) : []);
  const observeRelu = new Set(opts.observe === 'relu' ? plan.observed.relu.map((o) => o.name) : []);
  // Without observation, a mask is applied after a ReLU that directly follows the layer
  // (fused, or an Activation layer that is the layer's only consumer): relu(z * m) equals
  // relu(z) * m for m >= 0, and Conv+Relu stays fusable.
  const deferred = new Map<string, string>(); // relu layer -> mask value
  const consumers = new Map<string, PlanNode[]>();
  for (const n of plan.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const masked = (n: PlanNode, x: string): string => {
    if (!opts.masks && !module) return x;
    const m = maskValue(n);
    if (m === null) return x;
    if (!opts.observe && n.name !== plan.output) {
      if (n.act === 'relu') {
        deferred.set(n.name, m);
        return x;
      }
      const next = consumers.get(n.name) ?? [];
      if (n.act === 'linear' && next.length === 1 && next[0]!.op === 'act' && next[0]!.act === 'relu') {
        deferred.set(next[0]!.name, m);
        return x;
      }
    }
    return node('Mul', [x, m], `${prefix}v/${n.name}/masked`);
  };
  const afterRelu = (n: PlanNode, y: string): string => {
    const m = deferred.get(n.name);
    return m ? node('Mul', [y, m], `${prefix}v/${n.name}/masked`) : y;
  };

  const head = opts.modules?.length ? headNode(plan) : null;
  const passes: (PortableModule | null)[] = opts.modules?.length ? opts.modules : [null];
  let pixels = '';
  const moduleOutputs: string[] = [];
  for (const [pi, pass] of passes.entries()) {
    module = pass;
    prefix = passes.length > 1 ? `m${pi}/` : '';
    deferred.clear();
    for (const n of plan.nodes) {
      if (n === head) break; // a module's own head follows the loop
      const x = n.inputs.length ? val(n.inputs[0]!) : '';
      const out = `${prefix}v/${n.name}`;
      let y: string;
      switch (n.op) {
        case 'input': {
          if (pixels) {
            y = pixels; // every module pass reads the one preprocessed input
            break;
          }
          const [h, w, c] = n.shape as [number, number, number];
          if (uint8) {
            inputs.push(valueInfo(PIXELS, DataType.UINT8, ['N', h, w, pixelChannels(c)]));
            const { scale, shift, uniform } = channelScales(opts.preprocess ?? { mean: 0, std: 1 }, c);
            let f = node('Cast', [PIXELS], 'pre/float', [int('to', DataType.FLOAT)]);
            // A grey model sees the pixels' rounded luma (graph/inputs.ts).
            if (c === 1)
              f = node(
                'Round',
                [node('MatMul', [f, init('const/luma', [3, 1], Float32Array.from(LUMA))], 'pre/luma')],
                'pre/grey',
              );
            const perChannel = (name: string, v: number[]) =>
              uniform || c === 1 ? scalar(name, v[0]!) : init(name, [c], Float32Array.from(v));
            const s = node('Mul', [f, perChannel('const/scale', scale)], 'pre/scaled');
            const p = node('Add', [s, perChannel('const/shift', shift)], 'pre/shifted');
            y = node('Transpose', [p], out, [ints('perm', [0, 3, 1, 2])]);
          } else {
            inputs.push(valueInfo(INPUTS, DataType.FLOAT, ['N', h, w, c]));
            y = node('Transpose', [INPUTS], out, [ints('perm', [0, 3, 1, 2])]);
          }
          pixels = y;
          break;
        }
        case 'conv': {
          const [kh, kw, ci, co] = n.kernelShape as [number, number, number, number];
          const inCh = carried.get(n.inputs[0]!);
          const outCh = kept.get(n.name);
          let w: string;
          let b: string | null = null;
          if (inCh || outCh) {
            // A single module's export: this layer reads or writes fewer channels.
            const ins = inCh ?? Array.from({ length: ci }, (_, i) => i);
            const outs = outCh ?? Array.from({ length: co }, (_, i) => i);
            const k = sliceConvKernel(n.kernel!, n.kernelShape!, ins, outs);
            const shape = [kh, kw, ins.length, outs.length];
            w = init(`w/${n.name}/kernel`, [outs.length, ins.length, kh, kw], convKernel(k, shape));
            if (n.bias)
              b = init(
                `w/${n.name}/bias`,
                [outs.length],
                Float32Array.from(outs, (o) => n.bias![o]!),
              );
            if (outCh) carried.set(n.name, outCh);
          } else {
            w = init(`w/${n.name}/kernel`, [co, ci, kh, kw], convKernel(n.kernel!, n.kernelShape!));
            if (n.bias) b = init(`w/${n.name}/bias`, [co], n.bias);
          }
          const ins = [x, w];
          if (b) ins.push(b);
          let z = node('Conv', ins, `${out}/conv`, [
            ints('kernel_shape', [kh, kw]),
            ints('strides', n.strides!),
            ints('pads', n.pads!),
            ints('dilations', [1, 1]),
            int('group', 1),
          ]);
          z = masked(n, z);
          if (observeConv.has(n.name) || observeRelu.has(n.name)) observeValue(n.name, z, n.shape);
          y = afterRelu(n, activate(z, n.act, n.shape, `${out}/act`));
          break;
        }
        case 'dense': {
          const [ci, co] = n.kernelShape as [number, number];
          const w = init(`w/${n.name}/kernel`, [ci, co], n.kernel!);
          const ins = [x, w];
          if (n.bias) ins.push(init(`w/${n.name}/bias`, [co], n.bias));
          let z = node('Gemm', ins, `${out}/gemm`);
          z = masked(n, z);
          if (observeConv.has(n.name) || observeRelu.has(n.name)) observeValue(n.name, z, n.shape);
          y = afterRelu(n, activate(z, n.act, n.shape, `${out}/act`));
          break;
        }
        case 'act':
          if (carried.has(n.inputs[0]!)) carried.set(n.name, carried.get(n.inputs[0]!)!);
          if (observeRelu.has(n.name)) observeValue(n.name, x, n.inShape);
          y = afterRelu(n, activate(x, n.act, n.shape, `${out}/act`));
          break;
        case 'add':
          y = node('Sum', n.inputs.map(val), out);
          break;
        case 'bn': {
          const c = n.gamma!.length;
          y = node(
            'BatchNormalization',
            [
              x,
              init(`w/${n.name}/gamma`, [c], n.gamma!),
              init(`w/${n.name}/beta`, [c], n.beta!),
              init(`w/${n.name}/mean`, [c], n.mean!),
              init(`w/${n.name}/variance`, [c], n.variance!),
            ],
            out,
            [float('epsilon', n.epsilon!)],
          );
          break;
        }
        case 'pool': {
          const attrs = [
            ints('kernel_shape', n.poolSize!),
            ints('strides', n.strides!),
            ints('pads', n.pads!),
          ];
          if (n.pool === 'avg') attrs.push(int('count_include_pad', n.countPad ? 1 : 0));
          y = node(n.pool === 'avg' ? 'AveragePool' : 'MaxPool', [x], out, attrs);
          break;
        }
        case 'gpool':
          y = node(n.pool === 'avg' ? 'ReduceMean' : 'ReduceMax', [x], out, [
            ints('axes', [2, 3]),
            int('keepdims', 0),
          ]);
          break;
        case 'flatten':
          if (n.inShape.length === 1) y = x;
          else if (n.inShape.length === 3) {
            const t = node('Transpose', [x], `${out}/nhwc`, [ints('perm', [0, 2, 3, 1])]);
            y = node('Flatten', [t], out, [int('axis', 1)]);
          } else y = node('Flatten', [x], out, [int('axis', 1)]);
          break;
        case 'identity':
          if (carried.has(n.inputs[0]!)) carried.set(n.name, carried.get(n.inputs[0]!)!);
          y = x;
          break;
        case 'pad': {
          const [t, l, b, r] = n.pads!;
          y = node('Pad', [x, int64s(`const/pads/${n.name}`, [0, 0, t, l, 0, 0, b, r])], out);
          break;
        }
      }
      alias.set(n.name, y);
    }
    if (head && pass) moduleOutputs.push(moduleHead(pass, val(head.inputs[0]!)));
  }
  if (head) {
    const many = moduleOutputs.length > 1;
    const name = many ? PROBABILITIES : PROBABILITY;
    if (many) node('Concat', moduleOutputs, name, [int('axis', 1)]);
    else node('Reshape', [moduleOutputs[0]!, int64s('const/flat', [-1])], name);
    outputs.push(valueInfo(name, DataType.FLOAT, many ? ['N', moduleOutputs.length] : ['N']));
  } else if (opts.features && !opts.observe) {
    const head = headNode(plan);
    node('Identity', [val(head.inputs[0]!)], FEATURES);
    outputs.unshift(valueInfo(FEATURES, DataType.FLOAT, ['N', head.inShape[0]!]));
  } else if (!opts.observe) {
    node('Identity', [val(plan.output)], PROBS);
    outputs.unshift(valueInfo(PROBS, DataType.FLOAT, ['N', plan.classes]));
  }
  return encodeGraph({ name: 'model', node: nodes, initializer, input: inputs, output: outputs });
}
