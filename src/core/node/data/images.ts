// Decoding image files (JPEG, PNG, WebP, GIF, TIFF, AVIF, ... whatever sharp reads) into
// square 8-bit RGB, with a small concurrency pool.

import sharp from 'sharp';
import type { GreyInput } from '../../common/dataset.ts';
import { readRegular } from '../fs/read.ts';
import { greyInto } from './grey.ts';

/**
 * The most an image file may hold (a camera's photo takes a few MiB). Files are read whole
 * before sharp sees them, so only regular files are decoded and none is read without a bound.
 */
export const IMAGE_FILE_MAX = 128 << 20;

/**
 * How a non-square or differently sized image becomes size x size: 'cover' scales it so
 * the shorter side fits and crops the centre (keeps the aspect ratio, loses the edges).
 */
export const RESIZE_FIT = 'cover' as const;

sharp.cache(false);

/** Decodes `file` into size*size*3 RGB bytes written at `out[offset]`. Throws on failure. */
export async function decodeInto(file: string, size: number, out: Uint8Array, offset: number): Promise<void> {
  const bytes = await readRegular(file, { maxBytes: IMAGE_FILE_MAX });
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .rotate() // honour EXIF orientation
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .resize(size, size, { fit: RESIZE_FIT, position: 'centre' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const ch = info.channels;
  const n = size * size;
  if (info.width !== size || info.height !== size || data.length !== n * ch)
    throw new Error('unexpected decoded size');
  if (ch === 3) {
    out.set(data, offset);
  } else if (ch === 1 || ch === 2) {
    for (let i = 0; i < n; i++) {
      const v = data[i * ch];
      out[offset + 3 * i] = v;
      out[offset + 3 * i + 1] = v;
      out[offset + 3 * i + 2] = v;
    }
  } else {
    for (let i = 0; i < n; i++) {
      out[offset + 3 * i] = data[i * ch];
      out[offset + 3 * i + 1] = data[i * ch + 1];
      out[offset + 3 * i + 2] = data[i * ch + 2];
    }
  }
}

/**
 * Decodes `file` for a model trained on grey images: scaled to the dataset's source size as
 * decodeInto scales (cover), made grey (Rec. 601 luma, as PIL's convert('L'); exact for grey
 * files), then padded or resized to size x size exactly as the dataset loader does.
 */
export async function decodeGreyInto(
  file: string,
  grey: GreyInput,
  size: number,
  out: Uint8Array,
  offset: number,
): Promise<void> {
  const s = grey.sourceSize;
  const rgb = new Uint8Array(s * s * 3);
  await decodeInto(file, s, rgb, 0);
  const g = new Uint8Array(s * s);
  for (let i = 0; i < g.length; i++)
    g[i] = Math.round(0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!);
  greyInto(g, s, false, grey.fit, size, out, offset);
}

/** Runs `work(i)` for i in [0, n) with at most `limit` in flight; stops at the first throw. */
export async function pool(
  n: number,
  limit: number,
  work: (i: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      signal?.throwIfAborted();
      const i = next++;
      await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

export const DECODE_CONCURRENCY = 8;
