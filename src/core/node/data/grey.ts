// Grey images become the RGB input every model takes (the grey value in all three channels),
// centred on a black canvas ('pad', the default: 28 -> 32 adds a 2-pixel border) or scaled
// ('resize', bilinear). greyInto is the one place that does it, for the MNIST loader and for
// `predict` on a user's own files, so a model sees the same pixels either way.

import type { GreyFit } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';

/** The smallest canvas a padded image fits on, and the smallest resize target. */
const MIN_RESIZE = 8;

/**
 * Writes one grey srcSize x srcSize image (row-major; column-major when `transposed`) as
 * RGB of size x size at out[offset], padded or resized. The one conversion every grey input
 * goes through (the loader and `predict`).
 */
export function greyInto(
  src: Uint8Array,
  srcSize: number,
  transposed: boolean,
  fit: GreyFit,
  size: number,
  out: Uint8Array,
  offset: number,
): void {
  let g = src;
  if (transposed) {
    g = new Uint8Array(srcSize * srcSize);
    for (let y = 0; y < srcSize; y++)
      for (let x = 0; x < srcSize; x++) g[y * srcSize + x] = src[x * srcSize + y]!;
  }
  if (fit === 'pad') {
    const o = (size - srcSize) >> 1;
    out.fill(0, offset, offset + size * size * 3);
    for (let y = 0; y < srcSize; y++) {
      let d = offset + ((y + o) * size + o) * 3;
      for (let x = 0, i = y * srcSize; x < srcSize; x++, i++, d += 3) {
        const v = g[i]!;
        out[d] = v;
        out[d + 1] = v;
        out[d + 2] = v;
      }
    }
    return;
  }
  const t = bilinearTaps(srcSize, size);
  for (let y = 0; y < size; y++) {
    const r0 = t.i0[y]! * srcSize;
    const r1 = t.i1[y]! * srcSize;
    const wy = t.w[y]!;
    let d = offset + y * size * 3;
    for (let x = 0; x < size; x++, d += 3) {
      const x0 = t.i0[x]!;
      const x1 = t.i1[x]!;
      const wx = t.w[x]!;
      const top = g[r0 + x0]! * (1 - wx) + g[r0 + x1]! * wx;
      const bottom = g[r1 + x0]! * (1 - wx) + g[r1 + x1]! * wx;
      const v = Math.round(top * (1 - wy) + bottom * wy);
      out[d] = v;
      out[d + 1] = v;
      out[d + 2] = v;
    }
  }
}

/** Source indices and weights of bilinear resampling, pixel centres aligned (as PIL and OpenCV), edges clamped. */
function bilinearTaps(srcSize: number, size: number): { i0: Int32Array; i1: Int32Array; w: Float64Array } {
  const key = `${srcSize}:${size}`;
  let t = taps.get(key);
  if (!t) {
    t = { i0: new Int32Array(size), i1: new Int32Array(size), w: new Float64Array(size) };
    const s = srcSize / size;
    for (let k = 0; k < size; k++) {
      const f = Math.min(Math.max((k + 0.5) * s - 0.5, 0), srcSize - 1);
      t.i0[k] = Math.floor(f);
      t.i1[k] = Math.min(t.i0[k]! + 1, srcSize - 1);
      t.w[k] = f - t.i0[k]!;
    }
    taps.set(key, t);
  }
  return t;
}
const taps = new Map<string, { i0: Int32Array; i1: Int32Array; w: Float64Array }>();

/** Checks a grey fit against the source and canvas sizes; UserError when it cannot work. */
export function checkGreyFit(fit: GreyFit, srcSize: number, size: number, what: string): void {
  if (fit !== 'pad' && fit !== 'resize')
    throw new UserError(`Unknown fit "${String(fit)}" for ${what}.`, 'Use pad or resize.', 'bad-spec');
  if (!Number.isInteger(size) || size > 512 || (fit === 'pad' ? size < srcSize : size < MIN_RESIZE))
    throw new UserError(
      `${what} cannot be ${fit === 'pad' ? 'padded' : 'resized'} to ${size}x${size}.`,
      fit === 'pad'
        ? `Padding needs a size of at least ${srcSize} (the default is 32); use resize for smaller inputs.`
        : `Use a size from ${MIN_RESIZE} to 512.`,
      'bad-size',
    );
}
