// Tiny ImageNet (ImageNet-200), from the extracted folder tiny-imagenet-200/ (or its parent):
// wnids.txt (class order), words.txt (names), train/<wnid>/images/*.JPEG (500 per class),
// val/images/*.JPEG + val/val_annotations.txt (our test set; the official test/ has no labels).
// 64x64 JPEGs, some grayscale (expanded to RGB). A .zip path is extracted first (see index.ts).

import { existsSync, promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import type { DatasetInfo, ImageSet, LoadedDataset, Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { DECODE_CONCURRENCY, decodeInto, pool } from './images.ts';
import { readRegularText, TEXT_MAX } from '../fs/read.ts';
import { imageSetBuffer } from './image-set.ts';

const SIZE = 64;

export function resolveTinyRoot(p: string): string {
  const abs = path.resolve(p);
  if (!existsSync(abs)) {
    throw new UserError(
      `The Tiny ImageNet path ${abs} does not exist.`,
      'Choose the extracted tiny-imagenet-200 folder (the one with wnids.txt, train/ and val/), or download it first.',
      'not-found',
    );
  }
  for (const dir of [abs, path.join(abs, 'tiny-imagenet-200')]) {
    if (existsSync(path.join(dir, 'wnids.txt'))) return dir;
  }
  throw new UserError(
    `${abs} is not a Tiny ImageNet folder: wnids.txt was not found in it.`,
    'Choose the extracted tiny-imagenet-200 folder (the one with wnids.txt, words.txt, train/ and val/).',
    'missing-files',
  );
}

/** Paths whose size/mtime fingerprint the source: the index files and every class folder. */
export async function tinyFingerprintEntries(root: string): Promise<string[]> {
  const out = [
    path.join(root, 'wnids.txt'),
    path.join(root, 'words.txt'),
    path.join(root, 'val', 'val_annotations.txt'),
    path.join(root, 'val', 'images'),
  ];
  const wnids = await readWnids(root);
  for (const w of wnids) out.push(path.join(root, 'train', w, 'images'));
  return out.filter((f) => existsSync(f));
}

async function readWnids(root: string): Promise<string[]> {
  const text = await readRegularText(path.join(root, 'wnids.txt'), { maxBytes: TEXT_MAX });
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function isJpegName(f: string): boolean {
  return !f.startsWith('.');
}

export async function loadTinyImageNet(
  p: string,
  id: string,
  opts: { onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<LoadedDataset> {
  const root = resolveTinyRoot(p);
  const wnids = await readWnids(root);
  if (wnids.length === 0) {
    throw new UserError(
      `${path.join(root, 'wnids.txt')} lists no classes.`,
      'Extract the Tiny ImageNet archive again.',
      'corrupt-data',
    );
  }
  const index = new Map(wnids.map((w, i) => [w, i]));
  // Names: the first synonym in words.txt; fall back to the wnid.
  const names = new Map<string, string>();
  const wordsFile = path.join(root, 'words.txt');
  const warnings: string[] = [];
  if (existsSync(wordsFile)) {
    const words = await readRegularText(wordsFile, { maxBytes: TEXT_MAX, signal: opts.signal });
    for (const line of words.split(/\r?\n/)) {
      const tab = line.indexOf('\t');
      if (tab < 0) continue;
      const w = line.slice(0, tab).trim();
      if (index.has(w))
        names.set(
          w,
          line
            .slice(tab + 1)
            .split(',')[0]
            .trim(),
        );
    }
  } else {
    warnings.push('words.txt was not found; class names are WordNet ids.');
  }
  const seen = new Set<string>();
  const classNames = wnids.map((w) => {
    let n = names.get(w) || w;
    if (seen.has(n)) n = `${n} (${w})`;
    seen.add(n);
    return n;
  });

  const trainFiles: { file: string; label: number }[] = [];
  for (const w of wnids) {
    const dir = path.join(root, 'train', w, 'images');
    if (!existsSync(dir)) {
      throw new UserError(
        `Tiny ImageNet class ${w} has no folder ${dir}.`,
        'Extract the whole archive again: the train folder is incomplete.',
        'missing-files',
      );
    }
    const files = (await fsp.readdir(dir)).filter(isJpegName).sort();
    for (const f of files) trainFiles.push({ file: path.join(dir, f), label: index.get(w)! });
  }
  const annFile = path.join(root, 'val', 'val_annotations.txt');
  if (!existsSync(annFile)) {
    throw new UserError(
      `${annFile} does not exist.`,
      'Extract the whole Tiny ImageNet archive again: the val folder is incomplete.',
      'missing-files',
    );
  }
  const testFiles: { file: string; label: number }[] = [];
  const annotations = await readRegularText(annFile, { maxBytes: TEXT_MAX, signal: opts.signal });
  const lines = annotations.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (!line) continue;
    const [f, w] = line.split('\t');
    const label = index.get(w ?? '');
    if (!f || label === undefined) {
      throw new UserError(
        `${annFile} line ${li + 1} names class "${w ?? ''}", which is not in wnids.txt.`,
        'Extract the Tiny ImageNet archive again; the annotation file does not match the class list.',
        'corrupt-data',
      );
    }
    testFiles.push({ file: path.join(root, 'val', 'images', f), label });
  }

  const total = trainFiles.length + testFiles.length;
  let done = 0;
  const skipped: string[] = [];
  const decodeSet = async (list: { file: string; label: number }[]): Promise<ImageSet> => {
    const px = SIZE * SIZE * 3;
    const images = imageSetBuffer(list.length, SIZE, `Tiny ImageNet in ${root}`);
    const ok = new Uint8Array(list.length);
    await pool(
      list.length,
      DECODE_CONCURRENCY,
      async (i) => {
        try {
          await decodeInto(list[i].file, SIZE, images, i * px);
          ok[i] = 1;
        } catch {
          skipped.push(path.relative(root, list[i].file));
          opts.onProgress?.({
            stage: 'Decoding images',
            fraction: done / total,
            detail: `skipped ${path.relative(root, list[i].file)} (not a readable image)`,
          });
        }
        if ((++done & 511) === 0) opts.onProgress?.({ stage: 'Decoding images', fraction: done / total });
      },
      opts.signal,
    );
    return compact(
      images,
      list.map((e) => e.label),
      ok,
      SIZE,
    );
  };
  const train = await decodeSet(trainFiles);
  const test = await decodeSet(testFiles);
  opts.onProgress?.({ stage: 'Decoding images', fraction: 1 });
  if (train.count === 0) {
    throw new UserError(
      `No readable training images were found under ${path.join(root, 'train')}.`,
      'Extract the Tiny ImageNet archive again.',
      'no-images',
    );
  }
  if (skipped.length) warnings.push(...skippedWarnings(skipped));
  const info: DatasetInfo = {
    id,
    kind: 'tinyimagenet',
    name: 'Tiny ImageNet',
    imageSize: SIZE,
    classNames,
    trainCount: train.count,
    testCount: test.count,
    source: root,
  };
  if (warnings.length) info.warnings = warnings;
  return { info, train, test };
}

/** Drops the entries whose `ok` flag is 0 (files that could not be decoded). */
export function compact(images: Uint8Array, labels: number[], ok: Uint8Array, size: number): ImageSet {
  const px = size * size * 3;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    if (!ok[i]) continue;
    if (n !== i) images.copyWithin(n * px, i * px, (i + 1) * px);
    n++;
  }
  const outLabels = new Int32Array(n);
  for (let i = 0, k = 0; i < labels.length; i++) if (ok[i]) outLabels[k++] = labels[i];
  return {
    images: n === labels.length ? images : images.slice(0, n * px),
    labels: outLabels,
    count: n,
    size,
  };
}

export function skippedWarnings(skipped: string[]): string[] {
  const sorted = [...skipped].sort();
  const shown = sorted.slice(0, 50).map((f) => `Skipped ${f}: not a readable image.`);
  if (sorted.length > 50)
    shown.push(`... and ${sorted.length - 50} more files that are not readable images were skipped.`);
  return shown;
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
