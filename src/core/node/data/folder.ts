// Any folder of images with one sub-folder per class. Class names are the sorted names of
// the sub-folders that hold at least one readable image; files are found recursively inside
// each class folder. Every image is resized to size x size with fit 'cover' (scale so the
// shorter side fits, crop the centre: no distortion, edges may be lost). Files sharp cannot
// decode are skipped and listed in info.warnings and in onProgress details; hidden files
// (names starting with '.') are ignored silently. The split into train/test is stratified
// per class and seeded: within each class, a seeded shuffle puts round(n * testFraction)
// images in the test set (at least one image stays in train).

import { existsSync, promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import type { DatasetInfo, ImageSet, LoadedDataset, Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { DECODE_CONCURRENCY, decodeInto, pool } from './images.ts';
import { Rng } from './random.ts';
import { skippedWarnings } from './tinyimagenet.ts';
import { imageSetBuffer } from './image-set.ts';

export const FOLDER_DEFAULTS = { testFraction: 0.2, seed: 1 } as const;

export function resolveFolder(p: string): string {
  const abs = path.resolve(p);
  if (!existsSync(abs)) {
    throw new UserError(
      `The image folder ${abs} does not exist.`,
      'Choose a folder that has one sub-folder of images per class.',
      'not-found',
    );
  }
  if (!statSync(abs).isDirectory()) {
    throw new UserError(
      `${abs} is a file, not a folder.`,
      'Choose a folder that has one sub-folder of images per class.',
      'bad-format',
    );
  }
  return abs;
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

/** Class folders and their files, sorted. Files in the root itself are not part of any class. */
export async function listFolder(
  root: string,
): Promise<{ classes: string[]; files: string[][]; rootFiles: string[] }> {
  const entries = await fsp.readdir(root, { withFileTypes: true });
  const classes = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: string[][] = [];
  for (const c of classes) {
    const list: string[] = [];
    await walk(path.join(root, c), list);
    files.push(list.sort());
  }
  const rootFiles = entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name);
  return { classes, files, rootFiles };
}

export async function loadFolder(
  p: string,
  size: number,
  testFraction: number,
  seed: number,
  id: string,
  opts: { onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<LoadedDataset> {
  if (!Number.isInteger(size) || size < 8 || size > 512) {
    throw new UserError(
      `The image size must be a whole number from 8 to 512 (got ${size}).`,
      'Choose 32 or 64 for the ResNets.',
      'bad-spec',
    );
  }
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new UserError(
      `The test fraction must be at least 0 and below 1 (got ${testFraction}).`,
      'Choose e.g. 0.2 for a 80/20 split.',
      'bad-spec',
    );
  }
  const root = resolveFolder(p);
  const { classes, files, rootFiles } = await listFolder(root);
  if (classes.length === 0) {
    throw new UserError(
      `The folder ${root} has no class sub-folders${rootFiles.length ? ` (it holds ${rootFiles.length} loose files)` : ''}.`,
      'Put the images of each class in a sub-folder named after the class, e.g. cats/ and dogs/.',
      'no-images',
    );
  }
  const px = size * size * 3;
  const all = files.flatMap((list, c) => list.map((f) => ({ file: f, label: c })));
  const images = imageSetBuffer(all.length, size, `The folder ${root}`);
  const ok = new Uint8Array(all.length);
  const skipped: string[] = [];
  let done = 0;
  await pool(
    all.length,
    DECODE_CONCURRENCY,
    async (i) => {
      try {
        await decodeInto(all[i].file, size, images, i * px);
        ok[i] = 1;
      } catch {
        const rel = path.relative(root, all[i].file);
        skipped.push(rel);
        opts.onProgress?.({
          stage: 'Decoding images',
          fraction: done / all.length,
          detail: `skipped ${rel} (not a readable image)`,
        });
      }
      if ((++done & 255) === 0) opts.onProgress?.({ stage: 'Decoding images', fraction: done / all.length });
    },
    opts.signal,
  );
  opts.onProgress?.({ stage: 'Decoding images', fraction: 1 });
  if (!ok.some((v) => v === 1)) {
    throw new UserError(
      `The folder ${root} has no readable images in its class sub-folders (${classes.join(', ')}).`,
      'Put JPEG or PNG images in one sub-folder per class.',
      'no-images',
    );
  }
  const warnings = skippedWarnings(skipped);
  // Keep only classes with at least one image; renumber them in sorted order.
  const counts = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < all.length; i++) if (ok[i]) counts[all[i].label]++;
  const keep: number[] = [];
  const remap = new Array<number>(classes.length).fill(-1);
  for (let c = 0; c < classes.length; c++) {
    if (counts[c] > 0) {
      remap[c] = keep.length;
      keep.push(c);
    } else {
      warnings.push(`Class folder ${classes[c]} has no readable images and was left out.`);
    }
  }
  // Stratified seeded split.
  const rng = new Rng(seed);
  const trainIdx: number[] = [];
  const testIdx: number[] = [];
  for (const c of keep) {
    const idx: number[] = [];
    for (let i = 0; i < all.length; i++) if (ok[i] && all[i].label === c) idx.push(i);
    rng.shuffle(idx);
    const nTest = Math.min(idx.length - 1, Math.round(idx.length * testFraction));
    testIdx.push(...idx.slice(0, nTest));
    trainIdx.push(...idx.slice(nTest));
  }
  rng.shuffle(trainIdx);
  rng.shuffle(testIdx);
  const gather = (idx: number[]): ImageSet => {
    const out = imageSetBuffer(idx.length, size, `The folder ${root}`);
    const labels = new Int32Array(idx.length);
    idx.forEach((src, k) => {
      out.set(images.subarray(src * px, (src + 1) * px), k * px);
      labels[k] = remap[all[src].label];
    });
    return { images: out, labels, count: idx.length, size };
  };
  const train = gather(trainIdx);
  const test = gather(testIdx);
  const info: DatasetInfo = {
    id,
    kind: 'folder',
    name: path.basename(root),
    imageSize: size,
    classNames: keep.map((c) => classes[c]),
    trainCount: train.count,
    testCount: test.count,
    source: root,
  };
  if (warnings.length) info.warnings = warnings;
  return { info, train, test };
}
