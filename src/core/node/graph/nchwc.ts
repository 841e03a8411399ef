// onnxruntime's blocked-channel (NCHWc) convolution kernels, used directly. onnxruntime moves
// a Conv onto them only when its weights are constants; training feeds the weights as
// inputs, so the graph reorders them itself (a Reshape and a Transpose) into the blocked
// filter layout and calls the com.microsoft.nchwc Conv, with activations reordered in and
// out around it. The block size depends on the CPU's vector width, so it is found by
// running a small convolution both ways once per process; 0 (plain Conv) where none matches.
import type * as Ort from 'onnxruntime-node';
import { GraphBuilder } from './builder.ts';
import { int, ints, str, type Attr } from './onnx-proto.ts';

export const NCHWC = 'com.microsoft.nchwc';

/** Whether a convolution with these channel counts can run blocked. */
export function blockable(ci: number, co: number, block: number): boolean {
  return block > 0 && co % block === 0 && (ci % block === 0 || ci < block);
}

/**
 * How a filter value's axes are laid out: tfjs's [kh, kw, in, out] ('hwio'), with in and out
 * swapped ('hwoi': a forward kernel read as its input gradient's, which maps out to in), or
 * already the blocked layout the kernels read ('blocked', e.g. from blockedFilter).
 */
export type FilterLayout = 'hwio' | 'hwoi' | 'blocked';

/**
 * A filter value in the blocked layout the NCHWc kernels read (logical shape [O, I, kh, kw]):
 * one transpose straight from the graph's layout, adjacent axes merged.
 */
export function blockedFilter(
  g: GraphBuilder,
  w: string,
  layout: FilterLayout,
  [o, i, kh, kw]: [number, number, number, number],
  block: number,
): string {
  if (layout === 'blocked') return w;
  const b = block;
  // Blocked: [O/b, I/b, kh, kw, bI, bO]; input channels below the block (the input stays
  // NCHW): [O/b, I, kh, kw, bO].
  const [shape, perm] =
    i % b === 0
      ? layout === 'hwio'
        ? [
            [kh, kw, i / b, b, o / b, b],
            [4, 2, 0, 1, 3, 5],
          ]
        : [
            [kh, kw, o / b, b, i / b, b],
            [2, 4, 0, 1, 5, 3],
          ]
      : layout === 'hwio'
        ? [
            [kh, kw, i, o / b, b],
            [3, 2, 0, 1, 4],
          ]
        : [
            [kh, kw, o / b, b, i],
            [2, 4, 0, 1, 3],
          ];
  const t = g.transpose(g.op('Reshape', [w, g.int64(shape)]), shape, perm);
  return g.op('Reshape', [t, g.int64([o, i, kh, kw])]);
}

/**
 * The blocked filter of a kernel with its in and out swapped (an input gradient's), from the
 * kernel's own blocked filter `w` (logical [o, i, kh, kw], both counts whole blocks): the
 * blocks of a kernel offset move whole (long runs), then each [b, b] block transposes (a move
 * of one axis, onnxruntime's fast path). From tfjs's layout the same took a transpose of
 * b-value runs (onnxruntime's slow general path) on wide layers.
 */
export function swappedBlockedFilter(
  g: GraphBuilder,
  w: string,
  [o, i, kh, kw]: [number, number, number, number],
  block: number,
): string {
  const b = block;
  const t = g.transpose(
    g.transpose(w, [o / b, i / b, kh, kw, b, b], [1, 0, 2, 3, 4, 5]),
    [i / b, o / b, kh, kw, b, b],
    [0, 1, 2, 3, 5, 4],
  );
  return g.op('Reshape', [t, g.int64([i, o, kh, kw])]);
}

/**
 * A convolution of the NHWC value `x` (the graph's layout) by the filter value `w` (laid
 * out as `layout` says) on the blocked kernels; returns NHWC. onnxruntime's reorders read
 * and write channels-last as fast as NCHW (measured), so the layout costs nothing here and
 * spares the filter gradients their transposes. `relu` fuses the activation.
 */
export function blockedConv(
  g: GraphBuilder,
  x: string,
  w: string,
  layout: FilterLayout,
  bias: string | null,
  dims: {
    ci: number;
    co: number;
    /** Input height and width (a channels-first copy is made when ci is below the block). */
    inHW: [number, number];
    k: [number, number];
    strides: [number, number];
    pads: number[];
  },
  block: number,
  relu = false,
): string {
  const { ci, co, k, strides, pads } = dims;
  const [h, w_] = dims.inHW;
  // With exactly one block of channels, NHWC is the blocked layout byte for byte: only the
  // dimensions are renamed, no reorder runs (in and out). Fewer input channels than a block:
  // the kernels read NCHW input directly.
  const xin =
    ci === block
      ? g.op('Reshape', [x, g.int64([-1, ci, h, w_])])
      : ci % block === 0
        ? g.opIn(NCHWC, 'ReorderInput', [x], [int('channels_last', 1)])
        : g.transpose(x, [null, h, w_, ci], [0, 3, 1, 2]);
  const wb = blockedFilter(g, w, layout, [co, ci, k[0], k[1]], block);
  const attrs: Attr[] = [
    ints('kernel_shape', k),
    ints('strides', strides),
    ints('pads', pads),
    ints('dilations', [1, 1]),
    int('group', 1),
  ];
  if (relu) attrs.push(str('activation', 'Relu'));
  const y = g.opIn(NCHWC, 'Conv', bias ? [xin, wb, bias] : [xin, wb], attrs);
  if (co === block) {
    const [oh, ow] = k.map(
      (kk, a) => Math.floor((dims.inHW[a]! + pads[a]! + pads[a + 2]! - kk) / strides[a]!) + 1,
    );
    return g.op('Reshape', [y, g.int64([-1, oh!, ow!, co])]);
  }
  return g.opIn(NCHWC, 'ReorderOutput', [y], [int('channels', co), int('channels_last', 1)]);
}

/**
 * An NCHW value in the blocked layout, its channels padded with zeros to whole blocks (the
 * reorder takes channel counts in fours).
 */
export function blockedInput(g: GraphBuilder, x: string): string {
  return g.opIn(NCHWC, 'ReorderInput', [x], [int('channels_last', 0)]);
}

let detected: Promise<number> | null = null;

/** The NCHWc block size onnxruntime uses on this CPU, or 0 when its blocked kernels are absent. */
export function nchwcBlockSize(ort: typeof Ort): Promise<number> {
  detected ??= (async () => {
    const [n, c, h, kk] = [2, 32, 7, 3];
    const x = Float32Array.from({ length: n * c * h * h }, (_, i) => Math.sin(i * 0.37));
    const w = Float32Array.from({ length: c * c * kk * kk }, (_, i) => Math.cos(i * 0.71));
    for (const block of [16, 8, 4]) {
      try {
        const g = new GraphBuilder();
        g.input('x', [n, h, h, c]);
        g.input('w', [kk, kk, c, c]);
        const dims = {
          ci: c,
          co: c,
          inHW: [h, h] as [number, number],
          k: [kk, kk] as [number, number],
          strides: [1, 1] as [number, number],
          pads: [1, 1, 1, 1],
        };
        const nchw = g.op('Transpose', ['x'], [ints('perm', [0, 3, 1, 2])]);
        const oihw = g.op('Transpose', ['w'], [ints('perm', [3, 2, 0, 1])]);
        const ref = g.op('Conv', [nchw, oihw], [ints('kernel_shape', [kk, kk]), ints('pads', [1, 1, 1, 1])]);
        g.output('ref', g.op('Transpose', [ref], [ints('perm', [0, 2, 3, 1])]), [n, h, h, c]);
        g.output('blocked', blockedConv(g, 'x', 'w', 'hwio', null, dims, block), [n, h, h, c]);
        const s = await ort.InferenceSession.create(g.encode(), { logSeverityLevel: 4 });
        const r = await s.run({
          x: new ort.Tensor('float32', x, [n, h, h, c]),
          w: new ort.Tensor('float32', w, [kk, kk, c, c]),
        });
        await s.release();
        const a = r.ref!.data as Float32Array;
        const b = r.blocked!.data as Float32Array;
        let worst = 0;
        for (let i = 0; i < a.length; i++)
          worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(a[i]!)));
        if (worst < 1e-4) return block;
      } catch {
        // The blocked kernels are not built for this CPU or this block size.
      }
    }
    return 0;
  })();
  return detected;
}
