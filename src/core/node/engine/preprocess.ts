// Pixels to model inputs, with the usual CIFAR augmentation (pad-and-crop, horizontal
// flip). Augmentation parameters are chosen by the caller from a seeded generator, so
// results do not depend on how a batch is split across workers.
import type { Preprocess } from '../models/io.ts';

/** Per image: shift in pixels (pad-and-crop) and whether to mirror. */
export interface Augment {
  dx: Int8Array;
  dy: Int8Array;
  flip: Uint8Array;
}

export function toInputs(
  images: Uint8Array,
  count: number,
  size: number,
  pre: Preprocess,
  aug?: Augment | null,
  out?: Float32Array,
): Float32Array {
  const n = count * size * size * 3;
  const x = out && out.length >= n ? out.subarray(0, n) : new Float32Array(n);
  const scale = 1 / pre.std;
  const shift = -pre.mean / pre.std;
  if (!aug) {
    for (let i = 0; i < n; i++) x[i] = images[i]! * scale + shift;
    return x;
  }
  const row = size * 3;
  const img = size * row;
  for (let b = 0; b < count; b++) {
    const dx = aug.dx[b]!;
    const dy = aug.dy[b]!;
    const flip = aug.flip[b] === 1;
    const base = b * img;
    for (let y = 0; y < size; y++) {
      const sy = y + dy;
      const orow = base + y * row;
      if (sy < 0 || sy >= size) {
        x.fill(0, orow, orow + row);
        continue;
      }
      const irow = base + sy * row;
      for (let xx = 0; xx < size; xx++) {
        const sx0 = (flip ? size - 1 - xx : xx) + dx;
        const o = orow + xx * 3;
        if (sx0 < 0 || sx0 >= size) {
          x[o] = 0;
          x[o + 1] = 0;
          x[o + 2] = 0;
        } else {
          const i = irow + sx0 * 3;
          x[o] = images[i]! * scale + shift;
          x[o + 1] = images[i + 1]! * scale + shift;
          x[o + 2] = images[i + 2]! * scale + shift;
        }
      }
    }
  }
  return x;
}
