// Pooling's backward half (the forward is graph/layers/Pooling2D.ts). Average: dy divided by
// each window's count of inputs (the real ones, or every position the window covers when the
// padding counts), spread back by a depthwise ConvTranspose with ones. Max: dy scattered
// (added) to the position MaxPool's indices name. ONNX pools NCHW only: values are transposed
// in and out of the graph's NHWC.
import { int, ints, str } from '../../../graph/onnx-proto.ts';
import { pooling2dForward } from '../../../graph/layers/Pooling2D.ts';
import type { LayerRule } from './types.ts';

/**
 * How many inputs each output window averages: [1, 1, oh, ow]. The real (unpadded) ones; with
 * `countPad`, every position of the window inside the padded input (as ONNX's
 * count_include_pad counts: the pads, but not beyond them).
 */
function windowCounts(
  [h, w]: number[],
  [oh, ow]: number[],
  [kh, kw]: [number, number],
  [sh, sw]: [number, number],
  [pt, pl, pb, pr]: number[],
  countPad: boolean,
): Float32Array {
  const out = new Float32Array(oh! * ow!);
  const span = (o: number, s: number, p: number, k: number, size: number, after: number) =>
    countPad
      ? Math.min(size + after, o * s - p + k) - (o * s - p)
      : Math.min(size, o * s - p + k) - Math.max(0, o * s - p);
  for (let y = 0; y < oh!; y++)
    for (let x = 0; x < ow!; x++)
      out[y * ow! + x] = span(y, sh, pt!, kh, h!, pb!) * span(x, sw, pl!, kw, w!, pr!);
  return out;
}

export const pooling2dRule: LayerRule = {
  ...pooling2dForward,
  backward({ g, node }, fwd, dyNhwc, needInput) {
    if (!needInput[0]) return [null];
    const [h, w, c] = node.inShape as [number, number, number];
    const [oh, ow] = node.shape as [number, number, number];
    const dy = g.transpose(dyNhwc, [null, oh, ow, c], [0, 3, 1, 2]);
    const nhwc = (d: string) => g.transpose(d, [null, c, h, w], [0, 2, 3, 1]);
    const [kh, kw] = node.poolSize!;
    const [sh, sw] = node.strides!;
    const [pt, pl, pb, pr] = node.pads!;
    if (node.pool === 'avg') {
      const counts = g.floats(
        [1, 1, oh, ow],
        windowCounts([h, w], [oh, ow], [kh, kw], [sh, sw], [pt, pl, pb, pr], node.countPad ?? false),
      );
      const ones = g.floats([c, 1, kh, kw], new Float32Array(c * kh * kw).fill(1));
      return [
        nhwc(
          g.op(
            'ConvTranspose',
            [g.op('Div', [dy, counts]), ones],
            [
              ints('kernel_shape', [kh, kw]),
              ints('strides', [sh, sw]),
              ints('pads', [pt, pl, pb, pr]),
              ints('output_padding', [h - sh * (oh - 1) - kh + pt + pb, w - sw * (ow - 1) - kw + pl + pr]),
              int('group', c),
            ],
          ),
        ),
      ];
    }
    const x = fwd.saved!.x!;
    const flat = g.int64([-1]);
    const zeros = g.op('ConstantOfShape', [g.op('Unsqueeze', [g.op('Size', [x]), g.int64([0])])]);
    const idx = g.op('Reshape', [fwd.saved!.idx!, flat]);
    const scattered = g.op(
      'ScatterElements',
      [zeros, idx, g.op('Reshape', [dy, flat])],
      [int('axis', 0), str('reduction', 'add')],
    );
    return [nhwc(g.op('Reshape', [scattered, g.op('Shape', [x])]))];
  },
};
