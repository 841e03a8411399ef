// Conv2D's backward half (its forward is graph/layers/Conv2D.ts, what every graph emits).
//
// Backward (formulations chosen by measurement, see the training-graph notes):
// - filter gradient: one product per kernel offset over the whole batch, the strided window
//   of the padded x that offset reads [N*oh*ow, ci] against dz [N*oh*ow, co] (1x1 kernels are
//   the one-offset case): a 1x1 blocked convolution where channels and map positions fill
//   whole blocks, else a GEMM on plain reshapes (channels-last);
// - input gradient: stride-1 convolutions of dz with the kernel's taps reversed and its
//   in/out axes swapped, one per phase of the stride (one phase with the whole kernel at
//   stride 1), interleaved back into x's positions;
// - bias gradient: dz summed over batch and space.
import type { PlanNode } from '../../../graph/plan.ts';
import { BEFORE_START, type GraphBuilder } from '../../../graph/builder.ts';
import { int, ints } from '../../../graph/onnx-proto.ts';
import { NCHWC, blockable, blockedConv, pointwiseConv, pointwiseInput } from '../../../graph/nchwc.ts';
import { channelRows } from '../../../graph/layers/channels.ts';
import { conv2dForward, convAttrs, convDims, nchwConv } from '../../../graph/layers/Conv2D.ts';
import { activationGradient, refuseActivation } from './activation.ts';
import type { LayerRule } from './types.ts';

/**
 * Whether dW runs on the blocked kernels (see filterGradient): input channels in whole blocks,
 * and output maps whose positions fill whole blocks, whatever the batch.
 */
export function blockedFilterGradient(node: PlanNode, block: number): boolean {
  const { ci, oh, ow } = convDims(node);
  return block > 0 && ci % block === 0 && (oh * ow) % block === 0;
}

/**
 * Bytes of x's window one blocked filter-gradient product reads, at NOMINAL_BATCH images: small
 * enough that a chunk's rows of x, its window and its rows of dz stay in a core's L2 cache
 * across the kernel's offsets (a few MiB on current x86), large enough that the products stay
 * few. Chosen by timing ResNet-20 steps (one engine and the pool): smaller chunks gained
 * nothing more, a MiB and over lost the gain.
 */
export const FILTER_CHUNK_BYTES = 512 * 1024;
/** The batch chunks are sized for (the graph's batch is free; any batch is exact, only the fit varies). */
const NOMINAL_BATCH = 64;

/**
 * Output rows per chunk of the blocked filter gradient: about `bytes` of window per chunk (the
 * most rows within it, else the fewest above it), each chunk's positions (rows x ow) in whole
 * blocks, as the blocked filter layout needs, and chunks of equal rows; all rows where no
 * count divides oh that way.
 */
export function chunkRows(node: PlanNode, block: number, bytes: number): number {
  const { ci, oh, ow } = convDims(node);
  const want = Math.max(1, Math.floor(bytes / (NOMINAL_BATCH * ow * ci * 4)));
  const fits = (r: number) => oh % r === 0 && (r * ow) % block === 0;
  for (let r = Math.min(want, oh); r >= 1; r--) if (fits(r)) return r;
  for (let r = want + 1; r < oh; r++) if (fits(r)) return r;
  return oh;
}

/**
 * dW one kernel offset at a time: for offset (ky, kx), the strided window of the padded x that
 * offset reads, [N*oh*ow, ci], contracted with dz [N*oh*ow, co] over the batch's positions
 * gives dW[ky, kx] [ci, co]. No im2col: each window is one strided copy of x, not a
 * kh*kw-times larger tensor, and every product contracts over the whole batch at once.
 *
 * On the blocked kernels (blockedFilterGradient), each product is a 1x1 convolution of one
 * image: dz is its input, with the batch's positions as input channels and co as its width
 * (reordered once per chunk), and the window is its filter, with ci as output channels. x is
 * padded and laid out [ci/b, N, h, w, b] once, so that every window of it is that filter in
 * the kernels' blocked layout, with no reorder. This beat onnxruntime's SGEMM on these
 * skinny products at every ResNet stage (its GEMM copies and packs both operands per call).
 * The products run over chunks of output rows (chunkRows), summed: each product streams its
 * operands once, so whole-batch windows made every offset read x and dz from memory again,
 * where a chunk's stay in cache across the offsets.
 * Elsewhere: one GEMM per offset on plain reshapes (channels-last makes both operands
 * [positions, channels]).
 */
function filterGradient(g: GraphBuilder, x: string, dz: string, node: PlanNode, chunkBytes: number): string {
  const { kh, kw, ci, co, h, w, oh, ow, sh, sw, pt, pl } = convDims(node);
  const b = g.nchwcBlock;
  const blocked = blockedFilterGradient(node, b);
  // The windows' source: x, laid out [ci/b, N, h, w, b] first where blocked (before padding:
  // the transpose moves fewer values), then padded.
  const laid = !blocked
    ? x
    : ci === b
      ? g.op('Reshape', [x, g.int64([1, -1, h, w, b])])
      : g.transpose(x, [null, h, w, ci / b, b], [3, 0, 1, 2, 4]);
  const rank = blocked ? 5 : 4;
  const axes = blocked ? [2, 3] : [1, 2]; // the spatial axes
  // Far pads the windows need (negative: the last rows/columns are never read).
  const after = [(oh - 1) * sh + kh - h - pt, (ow - 1) * sw + kw - w - pl].map((p) => Math.max(0, p));
  const pads = new Array<number>(2 * rank).fill(0);
  [pads[axes[0]!], pads[axes[1]!], pads[rank + axes[0]!], pads[rank + axes[1]!]] = [
    pt,
    pl,
    after[0]!,
    after[1]!,
  ];
  const source = pads.some((p) => p > 0) ? g.op('Pad', [laid, g.int64(pads)]) : laid;
  const [hp, wp] = [h + pt + after[0]!, w + pl + after[1]!];
  // The window of offset (ky, kx) over output rows [r0, r1).
  const window = (ky: number, kx: number, r0: number, r1: number) => {
    const start = [ky + r0 * sh, kx];
    const end = [ky + (r1 - 1) * sh + 1, kx + (ow - 1) * sw + 1];
    const whole = start[0] === 0 && start[1] === 0 && sh === 1 && sw === 1 && end[0] === hp && end[1] === wp;
    return whole
      ? source
      : g.op('Slice', [source, g.int64(start), g.int64(end), g.int64(axes), g.int64([sh, sw])]);
  };
  const offsets = (each: (ky: number, kx: number) => string) => {
    const taps: string[] = [];
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) taps.push(each(ky, kx));
    return taps.length === 1 ? taps[0]! : g.op('Concat', taps, [int('axis', 0)]);
  };
  if (!blocked) {
    const dzRows = g.op('Reshape', [dz, g.int64([-1, co])]);
    const all = offsets((ky, kx) =>
      g.op('Gemm', [g.op('Reshape', [window(ky, kx, 0, oh), g.int64([-1, ci])]), dzRows], [int('transA', 1)]),
    ); // [kh*kw*ci, co]
    return g.op('Reshape', [all, g.int64([kh, kw, ci, co])]);
  }
  const rows = chunkRows(node, b, chunkBytes);
  const chunks: string[] = [];
  for (let r0 = 0; r0 < oh; r0 += rows) {
    const r1 = r0 + rows;
    const dzChunk = rows === oh ? dz : g.op('Slice', [dz, g.int64([r0]), g.int64([r1]), g.int64([1])]);
    const dzIn = pointwiseInput(g, g.op('Reshape', [dzChunk, g.int64([1, -1, 1, co])]));
    // [1, ci, 1, co] per offset, blocked
    chunks.push(
      offsets((ky, kx) =>
        pointwiseConv(g, dzIn, g.op('Reshape', [window(ky, kx, r0, r1), g.int64([ci, -1, 1, 1])])),
      ),
    );
  }
  const all = chunks.length === 1 ? chunks[0]! : g.op('Sum', chunks);
  // Each offset's [ci/b, co, b] blocks, as [ci, co].
  const t = g.transpose(all, [kh * kw, ci / b, co, b], [0, 1, 3, 2]);
  return g.op('Reshape', [t, g.int64([kh, kw, ci, co])]);
}

/**
 * dW as ONE blocked convolution that reads x in place (no windows): the batch's images are its
 * channels, each image's rows its rows, and each row's pixels and channels one axis (w*ci
 * values) read with dilation sw*ci, so that the taps (oy, ox) of dz, its filter ([co, N, oh,
 * ow]), sum over every position and image while the output positions are the kernel's
 * offsets: output row ky, column kx*ci + c, channel o is dW[ky, kx, c, o].
 */
function filterGradientByImages(g: GraphBuilder, x: string, dz: string, node: PlanNode): string {
  const { kh, kw, ci, co, h, w, oh, ow, sh, sw, pt, pl } = convDims(node);
  const b = g.nchwcBlock;
  const batch = () => g.op('Slice', [g.op('Shape', [x]), g.int64([0]), g.int64([1])]);
  // Columns padded in x itself: the kernel's padded-edge path runs one output at a time.
  const right = kw + (ow - 1) * sw - w - pl;
  const zeros = (cols: number) =>
    g.op('Expand', [g.scalar(0), g.op('Concat', [batch(), g.int64([h, cols, ci])], [int('axis', 0)])]);
  const parts = [...(pl > 0 ? [zeros(pl)] : []), x, ...(right > 0 ? [zeros(right)] : [])];
  const wide = parts.length === 1 ? x : g.op('Concat', parts, [int('axis', 2)]);
  const wp = w + pl + Math.max(0, right);
  const images = pointwiseInput(g, g.op('Reshape', [wide, g.int64([1, -1, h, wp * ci])]));
  // dz as the filter [co, N, oh, ow] in the blocked layout [co/b, N/b, oh, ow, b(n), b(o)], the
  // batch padded with zero images to whole blocks as the reorder pads x's.
  const missing = g.op('Mod', [
    g.op('Sub', [g.int64([b]), g.op('Mod', [batch(), g.int64([b])])]),
    g.int64([b]),
  ]);
  const padded = g.op('Pad', [
    dz,
    g.op('Concat', [g.int64([0, 0, 0, 0]), missing, g.int64([0, 0, 0])], [int('axis', 0)]),
  ]);
  const filter = g.op('Reshape', [
    g.transpose(padded, [null, b, oh, ow, co / b, b], [4, 0, 2, 3, 1, 5]),
    g.int64([co, -1, oh, ow]),
  ]);
  const bottom = kh + (oh - 1) * sh - h - pt;
  const y = g.opIn(
    NCHWC,
    'Conv',
    [images, filter],
    [
      ints('kernel_shape', [oh, ow]),
      // One output row is all a 1-row kernel needs, whatever rows x has beyond it.
      ints('strides', [kh === 1 ? h + pt : 1, 1]),
      ints('pads', [pt, 0, Math.max(0, bottom), 0]),
      ints('dilations', [sh, sw * ci]),
      int('group', 1),
    ],
  );
  const [outH, outW] = [
    kh === 1 ? 1 : h + pt + Math.max(0, bottom) - (oh - 1) * sh,
    (wp - (ow - 1) * sw) * ci,
  ];
  let dw = g.opIn(NCHWC, 'ReorderOutput', [y], [int('channels', co), int('channels_last', 1)]);
  if (outH > kh || outW > kw * ci)
    dw = g.op('Slice', [dw, g.int64([0, 0]), g.int64([kh, kw * ci]), g.int64([1, 2])]);
  return g.op('Reshape', [dw, g.int64([kh, kw, ci, co])]);
}

/**
 * One phase of a strided convolution's input gradient along one axis: the input positions
 * s*m + r (m < count) receive the taps k0, k0+s, ... (taps of them), read from dz[m + c - t].
 * As a stride-1 correlation with the taps reversed: dz padded `before` (negative: cropped)
 * and `after` so the output has `count` positions.
 */
function phase(r: number, s: number, k: number, p: number, size: number, out: number) {
  const k0 = (((r + p) % s) + s) % s;
  const taps = k0 < k ? Math.ceil((k - k0) / s) : 0;
  const count = Math.ceil((size - r) / s);
  const c = (r + p - k0) / s;
  const before = taps - 1 - c;
  return { k0, taps, count, before, after: count + taps - 1 - out - before };
}

/**
 * dx for any stride, in phases: input positions of the same residue modulo the stride
 * receive the same taps of the kernel, so each phase is a stride-1 convolution of dz with
 * those taps reversed (a sub-kernel; stride 1 is the one phase with the whole kernel
 * flipped), and the phases interleave back into x's rows and columns. Every tap is used
 * once: the work of one forward convolution, on the blocked kernels (measured faster than
 * onnxruntime's ConvTranspose, which also needs the NCHW layout).
 */
function inputGradient(g: GraphBuilder, dz: string, hwio: string, node: PlanNode): string {
  const { kh, kw, ci, co, h, w, oh, ow, sh, sw, pt, pl } = convDims(node);
  const [mh, mw] = [Math.ceil(h / sh), Math.ceil(w / sw)];
  const batch = () => g.op('Slice', [g.op('Shape', [dz]), g.int64([0]), g.int64([1])]);
  const rowsOfPhases: string[] = [];
  for (let rh = 0; rh < sh; rh++) {
    const row: string[] = [];
    for (let rw = 0; rw < sw; rw++) {
      const ph = phase(rh, sh, kh, pt, h, oh);
      const pw = phase(rw, sw, kw, pl, w, ow);
      let y: string;
      if (ph.taps === 0 || pw.taps === 0 || ph.count <= 0 || pw.count <= 0) {
        // No tap reaches these positions: their gradient is 0.
        const shape = g.op(
          'Concat',
          [batch(), g.int64([Math.max(0, ph.count), Math.max(0, pw.count), ci])],
          [int('axis', 0)],
        );
        y = g.op('Expand', [g.scalar(0), shape]);
      } else {
        // The phase's taps, reversed: [th, tw, ci, co], the gradient convolution's filter with
        // its in and out swapped (it maps co channels to ci).
        const last = (k0: number, taps: number, s: number) => k0 + s * (taps - 1);
        const end = (k0: number) => (k0 - 1 < 0 ? BEFORE_START : k0 - 1);
        const sub = g.op('Slice', [
          hwio,
          g.int64([last(ph.k0, ph.taps, sh), last(pw.k0, pw.taps, sw)]),
          g.int64([end(ph.k0), end(pw.k0)]),
          g.int64([0, 1]),
          g.int64([-sh, -sw]),
        ]);
        // Negative pads crop dz first (a convolution's pads cannot be negative).
        const crop = [Math.max(0, -ph.before), Math.max(0, -pw.before)];
        const stop = [oh - Math.max(0, -ph.after), ow - Math.max(0, -pw.after)];
        const cropped = crop[0]! > 0 || crop[1]! > 0 || stop[0]! < oh || stop[1]! < ow;
        const src = cropped ? g.op('Slice', [dz, g.int64(crop), g.int64(stop), g.int64([1, 2])]) : dz;
        const inHW: [number, number] = [stop[0]! - crop[0]!, stop[1]! - crop[1]!];
        const pads = [
          Math.max(0, ph.before),
          Math.max(0, pw.before),
          Math.max(0, ph.after),
          Math.max(0, pw.after),
        ];
        const k: [number, number] = [ph.taps, pw.taps];
        y = blockable(co, ci, g.nchwcBlock)
          ? blockedConv(
              g,
              src,
              sub,
              'hwoi',
              null,
              { ci: co, co: ci, inHW, k, strides: [1, 1], pads },
              g.nchwcBlock,
            )
          : nchwConv(
              g,
              src,
              [...inHW, co],
              [g.transpose(sub, [ph.taps, pw.taps, ci, co], [2, 3, 0, 1])],
              convAttrs(k, [1, 1], pads),
              ci,
              [ph.count, pw.count],
            );
      }
      if (sh === 1 && sw === 1) return y;
      // Every phase as [N, mh, mw, ci] (the last phases may be a row or column short).
      const short = [mh - Math.max(0, ph.count), mw - Math.max(0, pw.count)];
      if (short[0]! > 0 || short[1]! > 0)
        y = g.op('Pad', [y, g.int64([0, 0, 0, 0, 0, short[0]!, short[1]!, 0])]);
      row.push(g.op('Unsqueeze', [y, g.int64([3])]));
    }
    // Columns interleave: [N, mh, mw, sw, ci] is [N, mh, mw*sw, ci].
    const cols = row.length === 1 ? row[0]! : g.op('Concat', row, [int('axis', 3)]);
    rowsOfPhases.push(
      g.op('Unsqueeze', [g.op('Reshape', [cols, g.int64([-1, mh, mw * sw, ci])]), g.int64([2])]),
    );
  }
  // Rows interleave the same way; then x's size (the phases' padding cut off).
  const all = rowsOfPhases.length === 1 ? rowsOfPhases[0]! : g.op('Concat', rowsOfPhases, [int('axis', 2)]);
  const dx = g.op('Reshape', [all, g.int64([-1, mh * sh, mw * sw, ci])]);
  return mh * sh === h && mw * sw === w
    ? dx
    : g.op('Slice', [dx, g.int64([0, 0]), g.int64([h, w]), g.int64([1, 2])]);
}

export const conv2dRule: LayerRule = {
  ...conv2dForward,
  refuse: refuseActivation,
  backward({ g, node, inputs, weight, setGradient, filterChunkBytes }, fwd, dy, needInput) {
    const dz = activationGradient(g, node.act, fwd.output, dy);
    const tag = g.tag;
    g.tag = `${tag}/filter`;
    setGradient(
      'kernel',
      g.nchwcBlock > 0 && convDims(node).co % g.nchwcBlock === 0
        ? filterGradientByImages(g, inputs[0]!, dz, node)
        : filterGradient(g, inputs[0]!, dz, node, filterChunkBytes),
    );
    g.tag = tag;
    if (weight('bias')) {
      const byChannel = channelRows(g, node.shape);
      setGradient('bias', byChannel.sum(byChannel.rows(dz)));
    }

    g.tag = `${tag}/input`;
    return [needInput[0] ? inputGradient(g, dz, fwd.saved!.hwio!, node) : null];
  },
};
