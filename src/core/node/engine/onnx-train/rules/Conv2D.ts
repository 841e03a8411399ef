// Conv2D's backward half (its forward is graph/layers/Conv2D.ts, what every graph emits).
//
// Backward (formulations chosen by measurement, see the training-graph notes):
// - filter gradient: on the blocked kernels, one convolution that reads x in place with the
//   batch's images as its channels and dz as its filter, its outputs the kernel's offsets;
//   elsewhere one GEMM per kernel offset (the strided window of x against dz, channels-last);
// - input gradient: stride-1 convolutions of dz with the kernel's taps reversed and its
//   in/out axes swapped, one per phase of the stride (one phase with the whole kernel at
//   stride 1), interleaved back into x's positions;
// - bias gradient: dz summed over batch and space.
import type { PlanNode } from '../../../graph/plan.ts';
import { BEFORE_START, type GraphBuilder } from '../../../graph/builder.ts';
import { int, ints } from '../../../graph/onnx-proto.ts';
import { NCHWC, blockable, blockedConv, blockedInput, swappedBlockedFilter } from '../../../graph/nchwc.ts';
import { channelRows } from '../../../graph/layers/channels.ts';
import { conv2dForward, convAttrs, convDims, nchwConv } from '../../../graph/layers/Conv2D.ts';
import { activationGradient, refuseActivation } from './activation.ts';
import type { LayerRule } from './types.ts';

/**
 * dW without the blocked kernels (GPUs, CPUs that lack them): one GEMM per kernel offset, the
 * strided window of the padded x that offset reads, [N*oh*ow, ci], against dz [N*oh*ow, co]
 * (channels-last makes both plain reshapes), contracted over the batch's positions.
 */
function filterGradientByOffsets(g: GraphBuilder, x: string, dz: string, node: PlanNode): string {
  const { kh, kw, ci, co, h, w, oh, ow, sh, sw, pt, pl } = convDims(node);
  // Far pads the windows need (negative: the last rows/columns are never read).
  const [pb, pr] = [(oh - 1) * sh + kh - h - pt, (ow - 1) * sw + kw - w - pl].map((p) => Math.max(0, p));
  const source = pt + pl + pb! + pr! > 0 ? g.op('Pad', [x, g.int64([0, pt, pl, 0, 0, pb!, pr!, 0])]) : x;
  const dzRows = g.op('Reshape', [dz, g.int64([-1, co])]);
  const taps: string[] = [];
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++) {
      const start = [ky, kx];
      const end = [ky + (oh - 1) * sh + 1, kx + (ow - 1) * sw + 1];
      // A 1x1 kernel at stride 1 reads all of x: no copy.
      const whole = kh * kw === 1 && sh * sw === 1 && end[0] === h && end[1] === w;
      const window = whole
        ? source
        : g.op('Slice', [source, g.int64(start), g.int64(end), g.int64([1, 2]), g.int64([sh, sw])]);
      taps.push(g.op('Gemm', [g.op('Reshape', [window, g.int64([-1, ci])]), dzRows], [int('transA', 1)]));
    }
  const all = taps.length === 1 ? taps[0]! : g.op('Concat', taps, [int('axis', 0)]); // [kh*kw*ci, co]
  return g.op('Reshape', [all, g.int64([kh, kw, ci, co])]);
}

/**
 * dW on the blocked kernels, by batch size at run time (Ifs): by images (below) as they are
 * where they fill whole blocks; with zero images filling the last block where those are fewer
 * than the real ones (they cost what real ones do); else by offsets, which costs about twice
 * by images per image (timed on ResNet-20 steps from 4 to 32 images).
 */
function blockedFilterGradient(g: GraphBuilder, x: string, dz: string, node: PlanNode, rows: number): string {
  // Every layer's batch is the graph's: its quantities computed once, by the first layer.
  const { batch, missing, whole, fewer } = g.once('filter-gradient batch', () => {
    const b = g.nchwcBlock;
    const batch = g.op('Slice', [g.op('Shape', [x]), g.int64([0]), g.int64([1])]);
    const missing = g.op('Mod', [
      g.op('Sub', [g.int64([b]), g.op('Mod', [batch, g.int64([b])])]),
      g.int64([b]),
    ]);
    const whole = g.op('Equal', [missing, g.int64([0])]);
    return { batch, missing, whole, fewer: g.op('Less', [missing, batch]) };
  });
  return g.ifElse(
    whole,
    1,
    (t) => [filterGradientByImages(t, x, dz, node, rows, batch, null)],
    (t) =>
      t.ifElse(
        fewer,
        1,
        (u) => [filterGradientByImages(u, x, dz, node, rows, batch, missing)],
        (u) => [filterGradientByOffsets(u, x, dz, node)],
      ),
  )[0]!;
}

/**
 * dW as one blocked convolution that reads x in place, with no windows: the batch's images
 * are its channels, each image's rows its rows, and each row's pixels and channels one axis
 * (w*ci values) read with dilation sw*ci, so that the taps (oy, ox) of dz, its filter [co, N,
 * oh, ow], sum over every position and image while the output positions are the kernel's
 * offsets: output row ky, column kx*ci + c, channel o is dW[ky, kx, c, o].
 * x gets its padded columns in a copy (the kernel's own padded-edge path runs one output at a
 * time), and x and dz the `missing` zero images (null: none) in the copies their layouts need
 * anyway: a Pad, where none is missing a Concat of zero columns (faster) and no Pad of dz.
 */
function filterGradientByImages(
  g: GraphBuilder,
  x: string,
  dz: string,
  node: PlanNode,
  rows: number,
  batch: string,
  missing: string | null,
): string {
  const { kh, kw, ci, co, h, w, oh, ow, sh, sw, pt, pl } = convDims(node);
  const b = g.nchwcBlock;
  // Pads of a rank-4 value: `before`, then the missing images, then the other axes' ends.
  const pads = (m: string, before: number[], after: number[]) =>
    g.op('Concat', [g.int64(before), m, g.int64(after)], [int('axis', 0)]);
  const right = Math.max(0, kw + (ow - 1) * sw - w - pl);
  const wp = w + pl + right;
  const zeros = (cols: number) =>
    g.op('Expand', [g.scalar(0), g.op('Concat', [batch, g.int64([h, cols, ci])], [int('axis', 0)])]);
  const wide = missing
    ? g.op('Pad', [x, pads(missing, [0, 0, pl, 0], [0, right, 0])])
    : pl + right > 0
      ? g.op(
          'Concat',
          [...(pl > 0 ? [zeros(pl)] : []), x, ...(right > 0 ? [zeros(right)] : [])],
          [int('axis', 2)],
        )
      : x;
  const images = blockedInput(g, g.op('Reshape', [wide, g.int64([1, -1, h, wp * ci])]));
  // dz as the filter [co, N, oh, ow] in the blocked layout [co/b, N/b, oh, ow, b(n), b(o)],
  // its channels too padded to whole blocks (the reorder out drops theirs).
  const cop = Math.ceil(co / b) * b;
  const dzPads = missing
    ? pads(missing, [0, 0, 0, 0], [0, 0, cop - co])
    : cop > co
      ? g.int64([0, 0, 0, 0, 0, 0, 0, cop - co])
      : null;
  const dzAll = dzPads ? g.op('Pad', [dz, dzPads]) : dz;
  const filterOf = (v: string, r: number) =>
    g.op('Reshape', [
      g.transpose(v, [null, b, r, ow, cop / b, b], [4, 0, 2, 3, 1, 5]),
      g.int64([cop, -1, r, ow]),
    ]);
  const convOf = (input: string, filter: string, r: number, top: number, bottom: number) =>
    g.opIn(
      NCHWC,
      'Conv',
      [input, filter],
      [
        ints('kernel_shape', [r, ow]),
        // One output row is all a 1-row kernel needs, whatever rows x has beyond it.
        ints('strides', [kh === 1 ? h + pt : 1, 1]),
        ints('pads', [top, 0, bottom, 0]),
        ints('dilations', [sh, sw * ci]),
        int('group', 1),
      ],
    );
  let y: string;
  let outH = kh;
  if (rows >= oh) {
    const bottom = kh + (oh - 1) * sh - h - pt;
    y = convOf(images, filterOf(dzAll, oh), oh, pt, Math.max(0, bottom));
    // x may hold rows beyond the last offset's reach: their output rows are cut off below.
    outH = kh === 1 ? 1 : h + pt + Math.max(0, bottom) - (oh - 1) * sh;
  } else {
    // Chunks of dz's rows, each with the rows of x its taps read, summed.
    const flat = g.op('Reshape', [images, g.int64([-1, h, wp * ci * b])]);
    const chunks: string[] = [];
    for (let r0 = 0; r0 < oh; r0 += rows) {
      const r1 = Math.min(oh, r0 + rows);
      const [first, last] = [r0 * sh - pt, (r1 - 1) * sh + kh - 1 - pt];
      const [a0, a1] = [Math.max(0, first), Math.min(h, last + 1)];
      const xRows = g.op('Reshape', [
        g.op('Slice', [flat, g.int64([a0]), g.int64([a1]), g.int64([1])]),
        g.int64([1, -1, a1 - a0, wp * ci]),
      ]);
      const dzRows = g.op('Slice', [dzAll, g.int64([r0]), g.int64([r1]), g.int64([1])]);
      chunks.push(convOf(xRows, filterOf(dzRows, r1 - r0), r1 - r0, a0 - first, last + 1 - a1));
    }
    y = g.op('Sum', chunks);
  }
  // Columns beyond the kernel's (x read further than any offset does) are cut off too.
  const outW = (wp - (ow - 1) * sw) * ci;
  let dw = g.opIn(NCHWC, 'ReorderOutput', [y], [int('channels', co), int('channels_last', 1)]);
  if (outH > kh || outW > kw * ci)
    dw = g.op('Slice', [dw, g.int64([0, 0]), g.int64([kh, kw * ci]), g.int64([1, 2])]);
  return g.op('Reshape', [dw, g.int64([kh, kw, ci, co])]);
}

/**
 * Bytes of dz the by-images convolution streams for each row of its output and block of
 * images (its filter blocks for up to four blocks of output channels at once, onnxruntime's
 * kernel): within about half a core's L2 the kernel runs at the forward's speed, beyond it
 * at a half or less (measured on 224-pixel maps); larger maps run in chunks of dz's rows.
 */
export const IMAGES_FILTER_BYTES = 1024 * 1024;

/** dz rows per by-images convolution (all of them where they fit IMAGES_FILTER_BYTES). */
export function imagesChunkRows(node: PlanNode, block: number, bytes = IMAGES_FILTER_BYTES): number {
  const { co, oh, ow } = convDims(node);
  const perRow = Math.min(4, Math.ceil(co / block)) * ow * block * block * 4;
  return Math.max(1, Math.min(oh, Math.floor(bytes / perRow)));
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
function inputGradient(g: GraphBuilder, dz: string, saved: Record<string, string>, node: PlanNode): string {
  const hwio = saved.hwio!;
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
        const taps = (w: string, axes: number[]) =>
          g.op('Slice', [
            w,
            g.int64([last(ph.k0, ph.taps, sh), last(pw.k0, pw.taps, sw)]),
            g.int64([end(ph.k0), end(pw.k0)]),
            g.int64(axes),
            g.int64([-sh, -sw]),
          ]);
        // Where both channel counts are whole blocks, from the forward's blocked filter (its
        // taps as [co/b, ci/b, kh, kw, b*b]); else from tfjs's layout.
        const b = g.nchwcBlock;
        const fromBlocked = saved.blocked !== undefined && ci % b === 0 && co % b === 0;
        const sub = fromBlocked
          ? taps(g.op('Reshape', [saved.blocked!, g.int64([co / b, ci / b, kh, kw, b * b])]), [2, 3])
          : taps(hwio, [0, 1]);
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
              fromBlocked ? swappedBlockedFilter(g, sub, [co, ci, ph.taps, pw.taps], b) : sub,
              fromBlocked ? 'blocked' : 'hwoi',
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
  backward({ g, node, inputs, weight, setGradient, imagesFilterBytes }, fwd, dy, needInput) {
    const dz = activationGradient(g, node.act, fwd.output, dy);
    const tag = g.tag;
    g.tag = `${tag}/filter`;
    setGradient(
      'kernel',
      g.nchwcBlock > 0
        ? blockedFilterGradient(
            g,
            inputs[0]!,
            dz,
            node,
            imagesChunkRows(node, g.nchwcBlock, imagesFilterBytes),
          )
        : filterGradientByOffsets(g, inputs[0]!, dz, node),
    );
    g.tag = tag;
    if (weight('bias')) {
      const byChannel = channelRows(g, node.shape);
      setGradient('bias', byChannel.sum(byChannel.rows(dz)));
    }

    g.tag = `${tag}/input`;
    return [needInput[0] ? inputGradient(g, dz, fwd.saved!, node) : null];
  },
};
