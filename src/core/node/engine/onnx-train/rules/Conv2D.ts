// Conv2D (any kernel and stride, tfjs 'same' with its asymmetric pads or 'valid', with or
// without bias, fused activation). The kernel arrives in tfjs layout [kh, kw, in, out];
// activations are NHWC.
//
// Backward (formulations chosen by measurement, see the training-graph notes):
// - filter gradient: one GEMM per kernel offset over the whole batch, the strided window of
//   the padded x that offset reads [N*oh*ow, ci] against dz [N*oh*ow, co]; channels-last
//   makes both operands plain reshapes (1x1 kernels are the one-offset case);
// - input gradient, stride 1: a Conv of dy with the kernel flipped in both spatial axes and
//   its in/out axes swapped; stride > 1: a ConvTranspose with the forward's exact pads;
// - bias gradient: dz summed over batch and space.
import type { PlanNode } from '../../../inference/plan.ts';
import { BEFORE_START, int, ints, type GraphBuilder } from '../graph.ts';
import { blockable, blockedConv } from '../nchwc.ts';
import { activate, activationGradient, refuseActivation } from './activation.ts';
import type { LayerRule } from './types.ts';

/** A plain (NCHW-only) ONNX convolution op on NHWC values: transposed in and out. */
function nchwOp(
  g: GraphBuilder,
  type: 'Conv' | 'ConvTranspose',
  x: string,
  [h, w, c]: number[],
  rest: string[],
  attrs: ReturnType<typeof ints>[],
  outChannels: number,
  [oh, ow]: number[],
): string {
  const y = g.op(type, [g.transpose(x, [null, h!, w!, c!], [0, 3, 1, 2]), ...rest], attrs);
  return g.transpose(y, [null, outChannels, oh!, ow!], [0, 2, 3, 1]);
}

function convAttrs(k: [number, number], strides: [number, number], pads: number[]) {
  return [
    ints('kernel_shape', k),
    ints('strides', strides),
    ints('pads', pads),
    ints('dilations', [1, 1]),
    int('group', 1),
  ];
}

/**
 * dW as one GEMM per kernel offset: for offset (ky, kx), the strided window of the padded x
 * that offset reads, [N*oh*ow, ci], transposed times dz [N*oh*ow, co] gives dW[ky, kx]
 * [ci, co], already in tfjs layout. No im2col: each window is one strided copy of x, not a
 * kh*kw-times larger tensor, and every GEMM contracts over the whole batch at once.
 */
function filterGradient(g: GraphBuilder, x: string, dzFlat: string, node: PlanNode): string {
  const [kh, kw, ci, co] = node.kernelShape as [number, number, number, number];
  const [h, w] = node.inShape as [number, number, number];
  const [oh, ow] = node.shape as [number, number, number];
  const [sh, sw] = node.strides!;
  const [pt, pl] = node.pads!;
  // Far pads the windows need (negative: the last rows/columns are never read).
  const after = [(oh - 1) * sh + kh - h - pt, (ow - 1) * sw + kw - w - pl].map((p) => Math.max(0, p));
  const padded =
    pt > 0 || pl > 0 || after[0]! > 0 || after[1]! > 0
      ? g.op('Pad', [x, g.int64([0, pt, pl, 0, 0, after[0]!, after[1]!, 0])])
      : x;
  const [hp, wp] = [h + pt + after[0]!, w + pl + after[1]!];
  const rows: string[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const end = [ky + (oh - 1) * sh + 1, kx + (ow - 1) * sw + 1];
      const whole = ky === 0 && kx === 0 && sh === 1 && sw === 1 && end[0] === hp && end[1] === wp;
      const window = whole
        ? padded
        : g.op('Slice', [padded, g.int64([ky, kx]), g.int64(end), g.int64([1, 2]), g.int64([sh, sw])]);
      const flat = g.op('Reshape', [window, g.int64([-1, ci])]);
      rows.push(g.op('Gemm', [flat, dzFlat], [int('transA', 1)])); // [ci, co]
    }
  }
  const all = rows.length === 1 ? rows[0]! : g.op('Concat', rows, [int('axis', 0)]);
  return g.op('Reshape', [all, g.int64([kh, kw, ci, co])]);
}

export const conv2dRule: LayerRule = {
  classNames: ['Conv2D'],
  refuse: refuseActivation,
  forward({ g, node, inputs, weight }) {
    const [kh, kw, ci, co] = node.kernelShape as [number, number, number, number];
    const [h, w] = node.inShape as [number, number, number];
    const hwio = weight('kernel')!;
    const oihw = g.transpose(hwio, [kh, kw, ci, co], [3, 2, 0, 1]);
    const bias = weight('bias');
    if (blockable(ci, co, g.nchwcBlock)) {
      const k: [number, number] = [kh, kw];
      const dims = { ci, co, inHW: [h, w] as [number, number], k, strides: node.strides!, pads: node.pads! };
      const relu = node.act === 'relu';
      const y = blockedConv(g, inputs[0]!, oihw, bias, dims, g.nchwcBlock, relu);
      return { output: relu ? y : activate(g, y, node.act), saved: { oihw, hwio } };
    }
    const z = nchwOp(
      g,
      'Conv',
      inputs[0]!,
      node.inShape,
      bias ? [oihw, bias] : [oihw],
      convAttrs([kh, kw], node.strides!, node.pads!),
      co,
      node.shape,
    );
    return { output: activate(g, z, node.act), saved: { oihw, hwio } };
  },
  backward({ g, node, inputs, weight, setGradient }, fwd, dy, needInput) {
    const [kh, kw, ci, co] = node.kernelShape as [number, number, number, number];
    const [h, w] = node.inShape as [number, number, number];
    const [oh, ow] = node.shape as [number, number, number];
    const [pt, pl, pb, pr] = node.pads!;
    const [sh, sw] = node.strides!;
    const dz = activationGradient(g, node.act, fwd.output, dy);
    const dzFlat = g.op('Reshape', [dz, g.int64([-1, co])]); // [N*oh*ow, co]

    const tag = g.tag;
    g.tag = `${tag}/filter`;
    setGradient('kernel', filterGradient(g, inputs[0]!, dzFlat, node));
    g.tag = tag;
    if (weight('bias')) setGradient('bias', g.op('ReduceSum', [dzFlat, g.int64([0])], [int('keepdims', 0)]));

    g.tag = `${tag}/input`;
    if (!needInput[0]) return [null];
    if (sh === 1 && sw === 1) {
      // dx[i] = sum_k dz[i + k' - (kh-1-pt)] * flip(W)[k']: a stride-1 Conv of dz, padded
      // kh-1-pt before and, after, whatever makes the output x's size (never negative).
      let wt = g.transpose(fwd.saved!.hwio!, [kh, kw, ci, co], [2, 3, 0, 1]); // [ci, co, kh, kw]
      if (kh > 1 || kw > 1) {
        wt = g.op('Slice', [
          wt,
          g.int64([-1, -1]),
          g.int64([BEFORE_START, BEFORE_START]),
          g.int64([2, 3]),
          g.int64([-1, -1]),
        ]);
      }
      const pads = [kh - 1 - pt, kw - 1 - pl, h - oh + pt, w - ow + pl];
      if (blockable(co, ci, g.nchwcBlock)) {
        const k: [number, number] = [kh, kw];
        const dims = {
          ci: co,
          co: ci,
          inHW: [oh, ow] as [number, number],
          k,
          strides: [1, 1] as [number, number],
          pads,
        };
        return [blockedConv(g, dz, wt, null, dims, g.nchwcBlock)];
      }
      return [nchwOp(g, 'Conv', dz, node.shape, [wt], convAttrs([kh, kw], [1, 1], pads), ci, node.inShape)];
    }
    // Output size s*(oh-1) + op + k - pads must be the input's: op is what tfjs's pads leave.
    const outPad = [h - sh * (oh - 1) - kh + pt + pb, w - sw * (ow - 1) - kw + pl + pr];
    const attrs = [
      ints('kernel_shape', [kh, kw]),
      ints('strides', [sh, sw]),
      ints('pads', [pt, pl, pb, pr]),
      ints('output_padding', outPad),
      ints('dilations', [1, 1]),
      int('group', 1),
    ];
    return [nchwOp(g, 'ConvTranspose', dz, node.shape, [fwd.saved!.oihw!], attrs, ci, node.inShape)];
  },
};
