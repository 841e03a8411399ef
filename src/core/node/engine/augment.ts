// Training's augmentation, the usual CIFAR one (pad-and-crop, horizontal flip), applied as
// pixels become inputs (graph/inputs.ts). Its parameters are chosen by the caller from a
// seeded generator, so results do not depend on how a batch is split across workers.
import { PIXEL_CHANNELS, pixelChannels, pixelWriter, toInputs } from '../graph/inputs.ts';
import type { Preprocess } from '../models/io.ts';
import type { Augment } from './training-engine.ts';

/** Images a..b of a batch's augmentation (views, or copies to post to another thread). */
export function augmentPart(aug: Augment | null, a: number, b: number, copy = false): Augment | null {
  if (!aug) return null;
  return copy
    ? { dx: aug.dx.slice(a, b), dy: aug.dy.slice(a, b), flip: aug.flip.slice(a, b) }
    : { dx: aug.dx.subarray(a, b), dy: aug.dy.subarray(a, b), flip: aug.flip.subarray(a, b) };
}

/**
 * toInputs with each image shifted and mirrored as `aug` says (none: toInputs itself), as
 * inputs of a `channels`-channel model. Positions shifted in from outside are 0.
 */
export function augmentedInputs(
  images: Uint8Array,
  count: number,
  size: number,
  pre: Preprocess,
  aug: Augment | null,
  out?: Float32Array,
  channels = PIXEL_CHANNELS,
): Float32Array {
  if (!aug) return toInputs(images, count, size, pre, out, channels);
  const n = count * size * size * channels;
  const x = out && out.length >= n ? out.subarray(0, n) : new Float32Array(n);
  const write = pixelWriter(pre, channels);
  const inCh = pixelChannels(channels);
  const inRow = size * inCh;
  const row = size * channels;
  for (let b = 0; b < count; b++) {
    const dx = aug.dx[b]!;
    const dy = aug.dy[b]!;
    const flip = aug.flip[b] === 1;
    for (let y = 0; y < size; y++) {
      const sy = y + dy;
      const orow = (b * size + y) * row;
      if (sy < 0 || sy >= size) {
        x.fill(0, orow, orow + row);
        continue;
      }
      const irow = (b * size + sy) * inRow;
      for (let xx = 0; xx < size; xx++) {
        const sx0 = (flip ? size - 1 - xx : xx) + dx;
        const o = orow + xx * channels;
        if (sx0 < 0 || sx0 >= size) x.fill(0, o, o + channels);
        else write(images, irow + sx0 * inCh, x, o);
      }
    }
  }
  return x;
}
