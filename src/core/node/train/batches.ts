// The training set as the trainer sees it: the seeded validation split, subsets of a set, and
// each batch's augmentation draws.
import type { ImageSet } from '../../common/dataset.ts';
import { Rng } from '../data/random.ts';
import type { Augment } from '../engine/training-engine.ts';

/** The images and labels at `idx`, as a new ImageSet. */
export function subset(set: ImageSet, idx: ArrayLike<number>): ImageSet {
  const per = set.size * set.size * 3;
  const images = new Uint8Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i]!;
    images.set(set.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = set.labels[j]!;
  }
  return { images, labels, count: idx.length, size: set.size };
}

/** Seeded, stratified-free split of the training set into train and validation parts. */
export function validationSplit(
  count: number,
  fraction: number,
  seed: number,
): { train: Int32Array; val: Int32Array } {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  new Rng(seed ^ 0x5eed).shuffle(order);
  const nVal = fraction > 0 ? Math.max(1, Math.round(count * fraction)) : 0;
  return { val: order.slice(0, nVal).sort(), train: order.slice(nVal) };
}

/** Seeded pad-and-crop shifts and horizontal flips for n images (no flips where mirroring changes the class). */
export function augmentFor(rng: Rng, n: number, pad: number, mirror: boolean): Augment {
  const a: Augment = { dx: new Int8Array(n), dy: new Int8Array(n), flip: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    a.dx[i] = rng.int(2 * pad + 1) - pad;
    a.dy[i] = rng.int(2 * pad + 1) - pad;
    // Drawn either way, so a dataset's crops do not depend on whether it may be mirrored.
    a.flip[i] = rng.next() < 0.5 && mirror ? 1 : 0;
  }
  return a;
}
