// Training's augmentation, the usual CIFAR one (pad-and-crop, horizontal flip), applied as
// pixels become inputs (graph/inputs.ts). Its parameters are chosen by the caller from a
// seeded generator, so results do not depend on how a batch is split across workers.
import { inputScale, toInputs } from '../graph/inputs.ts';
import type { Preprocess } from '../models/io.ts';
import type { Augment } from './training-engine.ts';

/** Images a..b of a batch's augmentation (views, or copies to post to another thread). */
export function augmentPart(aug: Augment | null, a: number, b: number, copy = false): Augment | null {
  if (!aug) return null;
  return copy
    ? { dx: aug.dx.slice(a, b), dy: aug.dy.slice(a, b), flip: aug.flip.slice(a, b) }
    : { dx: aug.dx.subarray(a, b), dy: aug.dy.subarray(a, b), flip: aug.flip.subarray(a, b) };
}

/** toInputs with each image shifted and mirrored as `aug` says (none: toInputs itself). */
export function augmentedInputs(
  images: Uint8Array,
  count: number,
  size: number,
  pre: Preprocess,
  aug: Augment | null,
  out?: Float32Array,
): Float32Array {
  if (!aug) return toInputs(images, count, size, pre, out);
  const n = count * size * size * 3;
  const x = out && out.length >= n ? out.subarray(0, n) : new Float32Array(n);
  const { scale, shift } = inputScale(pre);
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
