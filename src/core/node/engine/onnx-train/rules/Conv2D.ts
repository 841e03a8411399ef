// Conv2D (any kernel and stride, tfjs 'same' with its asymmetric pads or 'valid', with or
// without bias, fused activation). The kernel arrives in tfjs layout [kh, kw, in, out].
//
// Backward (formulations chosen by measurement, see the training-graph notes):
// - filter gradient: on onnxruntime's blocked kernels with the batch as channels where the
//   output map is small; else one GEMM per kernel offset over the whole batch (a strided
//   window of the padded x against dy); 1x1 kernels: one batched MatMul per image with dy
//   (a strided Slice of x at most), summed over the batch;
// - input gradient, stride 1: a Conv of dy with the kernel flipped in both spatial axes and
//   its in/out axes swapped; stride > 1: a ConvTranspose with the forward's exact pads;
// - bias gradient: dy summed over batch and space.
import type { PlanNode } from '../../../inference/plan.ts';
import { BEFORE_START, int, ints, type GraphBuilder } from '../graph.ts';
import { blockable, blockedConv, NCHWC, padToBlock } from '../nchwc.ts';
import { activate, activationGradient, refuseActivation } from './activation.ts';
import type { LayerRule } from './types.ts';

function convAttrs(k: [number, number], strides: [number, number], pads: number[], group = 1) {
  return [
    ints('kernel_shape', k),
    ints('strides', strides),
    ints('pads', pads),
    ints('dilations', [1, 1]),
    int('group', group),
  ];
}

/**
 * dW of a 1x1 convolution without padding: x (strided by a Slice at most) as [N, ci, P], one
 * MatMul per image with dz, summed over the batch; [1, 1, ci, co].
 */
function pointwiseFilterGradient(g: GraphBuilder, x: string, dz: string, node: PlanNode): string {
  const [, , ci, co] = node.kernelShape as [number, number, number, number];
  const [h, w] = node.inShape as [number, number, number];
  const strides = node.strides!;
  const xs =
    strides[0] === 1 && strides[1] === 1
      ? x
      : g.op('Slice', [x, g.int64([0, 0]), g.int64([h, w]), g.int64([2, 3]), g.int64(strides)]);
  const col = g.op('Reshape', [xs, g.int64([0, ci, -1])]); // [N, ci, P]
  // col times dz^T (transposing the small dz, not col: measured faster than col^T).
  const dzT = g.op('Transpose', [g.op('Reshape', [dz, g.int64([0, co, -1])])], [ints('perm', [0, 2, 1])]);
  const perImage = g.op('MatMul', [col, dzT]); // [N, ci, co]
  const dw = g.op('ReduceSum', [perImage, g.int64([0])], [int('keepdims', 0)]);
  return g.op('Reshape', [dw, g.int64([1, 1, ci, co])]);
}

/**
 * dW as one GEMM per kernel offset: for offset (ky, kx), the strided window of the padded x
 * that offset reads, channels first over the whole batch [ci, N*oh*ow], times dz^T
 * [N*oh*ow, co] gives dW[ky, kx] [ci, co], already in tfjs layout. No im2col: each window is
 * one strided copy of x, not a kh*kw-times larger tensor, and every GEMM contracts over the
 * whole batch at once (measured faster than im2col for the 32x32 maps).
 */
function shiftedFilterGradient(
  g: GraphBuilder,
  x: string,
  dz: string,
  node: PlanNode,
): { dw: string; dzT: string } {
  const [kh, kw, ci, co] = node.kernelShape as [number, number, number, number];
  const [h, w] = node.inShape as [number, number, number];
  const [oh, ow] = node.shape as [number, number, number];
  const [sh, sw] = node.strides!;
  const [pt, pl] = node.pads!;
  // Far pads the windows need (negative: the last rows/columns are never read).
  const after = [(oh - 1) * sh + kh - h - pt, (ow - 1) * sw + kw - w - pl].map((p) => Math.max(0, p));
  const padded =
    pt > 0 || pl > 0 || after[0]! > 0 || after[1]! > 0
      ? g.op('Pad', [x, g.int64([0, 0, pt, pl, 0, 0, after[0]!, after[1]!])])
      : x;
  const xt = g.op('Transpose', [padded], [ints('perm', [1, 0, 2, 3])]); // [ci, N, H', W']
  const dzT = g.op('Reshape', [g.op('Transpose', [dz], [ints('perm', [1, 0, 2, 3])]), g.int64([co, -1])]);
  const rows: string[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const window = g.op('Slice', [
        xt,
        g.int64([ky, kx]),
        g.int64([ky + (oh - 1) * sh + 1, kx + (ow - 1) * sw + 1]),
        g.int64([2, 3]),
        g.int64([sh, sw]),
      ]);
      const flat = g.op('Reshape', [window, g.int64([ci, -1])]);
      rows.push(g.op('Gemm', [flat, dzT], [int('transB', 1)])); // [ci, co]
    }
  }
  const all = rows.length === 1 ? rows[0]! : g.op('Concat', rows, [int('axis', 0)]);
  return { dw: g.op('Reshape', [all, g.int64([kh, kw, ci, co])]), dzT };
}

/**
 * dW as one blocked convolution with the batch as channels: x^T [ci, N, H, W] correlated
 * with dz^T [co, N, oh, ow] (dilated by the stride) gives [ci, co, kh, kw]. No im2col; used
 * where the output map is small enough for the blocked kernels to run well (measured).
 * Returns null where it does not apply.
 */
function blockedFilterGradient(g: GraphBuilder, x: string, dz: string, node: PlanNode): string | null {
  const block = g.nchwcBlock;
  const [kh, kw, ci, co] = node.kernelShape as [number, number, number, number];
  const [h, w] = node.inShape as [number, number, number];
  const [oh, ow] = node.shape as [number, number, number];
  const [sh, sw] = node.strides!;
  const [pt, pl] = node.pads!;
  if (block === 0 || co % block !== 0 || (kh === 1 && kw === 1) || oh * ow > MAX_BLOCKED_FILTER_MAP)
    return null;
  // Output kh x kw: the far pads are what the window needs; negative means x is cropped.
  const after = [kh + (oh - 1) * sh - h - pt, kw + (ow - 1) * sw - w - pl];
  let xs = x;
  if (after[0]! < 0 || after[1]! < 0) {
    xs = g.op('Slice', [
      x,
      g.int64([0, 0]),
      g.int64([h + Math.min(0, after[0]!), w + Math.min(0, after[1]!)]),
      g.int64([2, 3]),
    ]);
  }
  const [hs, ws] = [h + Math.min(0, after[0]!), w + Math.min(0, after[1]!)];
  const xt = padToBlock(g, g.transpose(xs, [null, ci, hs, ws], [1, 0, 2, 3]), block);
  // dz^T as the blocked filter [co/B, N/B, oh, ow, B(N), B(co)]: reordered to NCHWc first
  // (onnxruntime's own fast reorder), the transpose then moves whole B(co) runs (measured far
  // faster than transposing single floats from NCHW).
  const dzc = g.opIn(NCHWC, 'ReorderInput', [padToBlock(g, dz, block, 0)], [int('channels_last', 0)]);
  const dz5 = g.op('Reshape', [dzc, g.int64([-1, block, co / block, oh * ow, block])]);
  const dzb = g.op('Reshape', [
    g.op('Transpose', [dz5], [ints('perm', [2, 0, 3, 1, 4])]),
    g.int64([co, -1, oh, ow]),
  ]);
  const dims = {
    ci: null,
    co,
    k: [oh, ow] as [number, number],
    strides: [1, 1] as [number, number],
    pads: [pt, pl, Math.max(0, after[0]!), Math.max(0, after[1]!)],
    dilations: [sh, sw] as [number, number],
    blockedFilter: true,
  };
  const dw = blockedConv(g, xt, dzb, null, dims, block); // [ci, co, kh, kw]
  return g.transpose(dw, [ci, co, kh, kw], [2, 3, 0, 1]);
}

/** Largest output map (oh*ow) whose filter gradient runs blocked (measured: 16x16 gains, 32x32 loses). */
const MAX_BLOCKED_FILTER_MAP = 16 * 16;

export const conv2dRule: LayerRule = {
  classNames: ['Conv2D'],
  refuse: refuseActivation,
  forward({ g, node, inputs, weight }) {
    const [kh, kw, ci, co] = node.kernelShape as [number, number, number, number];
    const hwio = weight('kernel')!;
    const oihw = g.transpose(hwio, [kh, kw, ci, co], [3, 2, 0, 1]);
    const bias = weight('bias');
    if (blockable(ci, co, g.nchwcBlock)) {
      const dims = { ci, co, k: [kh, kw] as [number, number], strides: node.strides!, pads: node.pads! };
      const relu = node.act === 'relu';
      const y = blockedConv(g, inputs[0]!, oihw, bias, dims, g.nchwcBlock, relu);
      return { output: relu ? y : activate(g, y, node.act), saved: { oihw, hwio } };
    }
    const z = g.op(
      'Conv',
      bias ? [inputs[0]!, oihw, bias] : [inputs[0]!, oihw],
      convAttrs([kh, kw], node.strides!, node.pads!),
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

    const tag = g.tag;
    g.tag = `${tag}/filter`;
    const blocked = blockedFilterGradient(g, inputs[0]!, dz, node);
    const pointwise = kh === 1 && kw === 1 && node.pads!.every((p) => p === 0);
    const shifted = blocked || pointwise ? null : shiftedFilterGradient(g, inputs[0]!, dz, node);
    setGradient('kernel', blocked ?? shifted?.dw ?? pointwiseFilterGradient(g, inputs[0]!, dz, node));
    g.tag = tag;
    if (weight('bias')) {
      // From dz^T [co, N*P] where the filter gradient made it: a sum along rows, measured
      // faster than summing NCHW over (n, h, w).
      setGradient(
        'bias',
        shifted
          ? g.op('ReduceSum', [shifted.dzT, g.int64([1])], [int('keepdims', 0)])
          : g.op('ReduceSum', [dz, g.int64([0, 2, 3])], [int('keepdims', 0)]),
      );
    }

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
        const dims = {
          ci: co,
          co: ci,
          k: [kh, kw] as [number, number],
          strides: [1, 1] as [number, number],
          pads,
        };
        return [blockedConv(g, dz, wt, null, dims, g.nchwcBlock)];
      }
      return [g.op('Conv', [dz, wt], convAttrs([kh, kw], [1, 1], pads))];
    }
    // Output size s*(oh-1) + op + k - pads must be the input's: op is what tfjs's pads leave.
    const outPad = [h - sh * (oh - 1) - kh + pt + pb, w - sw * (ow - 1) - kw + pl + pr];
    return [
      g.op(
        'ConvTranspose',
        [dz, fwd.saved!.oihw!],
        [
          ints('kernel_shape', [kh, kw]),
          ints('strides', [sh, sw]),
          ints('pads', [pt, pl, pb, pr]),
          ints('output_padding', outPad),
          ints('dilations', [1, 1]),
          int('group', 1),
        ],
      ),
    ];
  },
};
