// Conv2D (any kernel and stride, tfjs 'same' with its asymmetric pads or 'valid', with or
// without bias, fused activation). The kernel arrives in tfjs layout [kh, kw, in, out].
//
// Backward (formulations chosen by measurement, see the training-graph notes):
// - filter gradient: im2col of x as a grouped Conv with one-hot filters (ci groups, kh*kw
//   outputs each), then one batched MatMul per image with dy, summed over the batch;
//   1x1 kernels need no im2col (a strided Slice at most);
// - input gradient, stride 1: a Conv of dy with the kernel flipped in both spatial axes and
//   its in/out axes swapped; stride > 1: a ConvTranspose with the forward's exact pads;
// - bias gradient: dy summed over batch and space.
import { BEFORE_START, int, ints, type GraphBuilder } from '../graph.ts';
import { activate, activationGradient, refuseActivation } from './activation.ts';
import type { LayerRule } from './types.ts';

/** One-hot filters [ci*kh*kw, 1, kh, kw]: group i's output j copies input i at offset j. */
function im2colFilters(ci: number, kh: number, kw: number): Float32Array {
  const kk = kh * kw;
  const f = new Float32Array(ci * kk * kk);
  for (let i = 0; i < ci; i++) for (let j = 0; j < kk; j++) f[(i * kk + j) * kk + j] = 1;
  return f;
}

function convAttrs(k: [number, number], strides: [number, number], pads: number[], group = 1) {
  return [
    ints('kernel_shape', k),
    ints('strides', strides),
    ints('pads', pads),
    ints('dilations', [1, 1]),
    int('group', group),
  ];
}

/** x's columns for the filter gradient: [N, ci*kh*kw, oh*ow]. */
function columns(
  g: GraphBuilder,
  x: string,
  [kh, kw, ci]: number[],
  strides: [number, number],
  pads: [number, number, number, number],
  [h, w]: number[],
): string {
  let col: string;
  if (kh === 1 && kw === 1 && pads.every((p) => p === 0)) {
    col =
      strides[0] === 1 && strides[1] === 1
        ? x
        : g.op('Slice', [x, g.int64([0, 0]), g.int64([h!, w!]), g.int64([2, 3]), g.int64(strides)]);
  } else {
    const f = g.floats([ci! * kh! * kw!, 1, kh!, kw!], im2colFilters(ci!, kh!, kw!));
    col = g.op('Conv', [x, f], convAttrs([kh!, kw!], strides, pads, ci!));
  }
  return g.op('Reshape', [col, g.int64([0, ci! * kh! * kw!, -1])]);
}

export const conv2dRule: LayerRule = {
  classNames: ['Conv2D'],
  refuse: refuseActivation,
  forward({ g, node, inputs, weight }) {
    const [kh, kw] = node.kernelShape!;
    const hwio = weight('kernel')!;
    const oihw = g.op('Transpose', [hwio], [ints('perm', [3, 2, 0, 1])]);
    const bias = weight('bias');
    const z = g.op(
      'Conv',
      bias ? [inputs[0]!, oihw, bias] : [inputs[0]!, oihw],
      convAttrs([kh!, kw!], node.strides!, node.pads!),
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

    if (weight('bias'))
      setGradient('bias', g.op('ReduceSum', [dz, g.int64([0, 2, 3])], [int('keepdims', 0)]));

    const tag = g.tag;
    g.tag = `${tag}/filter`;
    const col = columns(g, inputs[0]!, [kh, kw, ci], node.strides!, node.pads!, [h, w]);
    const dzr = g.op('Reshape', [dz, g.int64([0, co, -1])]);
    const colT = g.op('Transpose', [col], [ints('perm', [0, 2, 1])]);
    const perImage = g.op('MatMul', [dzr, colT]); // [N, co, ci*kh*kw]
    const dw = g.op('ReduceSum', [perImage, g.int64([0])], [int('keepdims', 0)]);
    const dwOihw = g.op('Reshape', [dw, g.int64([co, ci, kh, kw])]);
    setGradient('kernel', g.op('Transpose', [dwOihw], [ints('perm', [2, 3, 1, 0])]));

    g.tag = `${tag}/input`;
    if (!needInput[0]) return [null];
    if (sh === 1 && sw === 1) {
      // dx[i] = sum_k dz[i + k' - (kh-1-pt)] * flip(W)[k']: a stride-1 Conv of dz, padded
      // kh-1-pt before and, after, whatever makes the output x's size (never negative).
      let wt = g.op('Transpose', [fwd.saved!.hwio!], [ints('perm', [2, 3, 0, 1])]); // [ci, co, kh, kw]
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
