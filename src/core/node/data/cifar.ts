// CIFAR-10 and CIFAR-100, binary releases (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz),
// from the archive itself or from an extracted folder.
//
// CIFAR-10: data_batch_1..5.bin (train), test_batch.bin (test); each record is 1 label byte
// + 3072 pixel bytes (1024 R, 1024 G, 1024 B, each 32x32 row-major: planar CHW). Class names
// in batches.meta.txt. CIFAR-100: train.bin, test.bin; records are 2 label bytes (coarse,
// fine) + 3072 pixel bytes; fine_label_names.txt and coarse_label_names.txt.
// We convert CHW planar to our HWC interleaved layout.

import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { DatasetInfo, ImageSet, LoadedDataset, Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { isTarArchive, readTarMembers } from './archive.ts';
import { readRegular } from '../fs/read.ts';
import { checkImageSet, imageSetBuffer } from './image-set.ts';

const SIDE = 32;
const PIXELS = SIDE * SIDE;

export const CIFAR10_NAMES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

interface Layout {
  train: string[];
  test: string[];
  names: string;
  labelBytes: number;
  labelIndex: number;
  classes: number;
  folder: string;
  archive: RegExp;
}

function layout(kind: 'cifar10' | 'cifar100', labels: 'fine' | 'coarse'): Layout {
  if (kind === 'cifar10') {
    return {
      train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
      test: ['test_batch.bin'],
      names: 'batches.meta.txt',
      labelBytes: 1,
      labelIndex: 0,
      classes: 10,
      folder: 'cifar-10-batches-bin',
      archive: /^cifar-10-binary\.tar\.gz$/i,
    };
  }
  return {
    train: ['train.bin'],
    test: ['test.bin'],
    names: labels === 'coarse' ? 'coarse_label_names.txt' : 'fine_label_names.txt',
    labelBytes: 2,
    labelIndex: labels === 'coarse' ? 0 : 1,
    classes: labels === 'coarse' ? 20 : 100,
    folder: 'cifar-100-binary',
    archive: /^cifar-100-binary\.tar\.gz$/i,
  };
}

function title(kind: 'cifar10' | 'cifar100'): string {
  return kind === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100';
}

/** The archive or folder that holds the batch files, or a UserError. */
export function resolveCifarSource(
  kind: 'cifar10' | 'cifar100',
  p: string,
): { path: string; archive: boolean } {
  const L = layout(kind, 'fine');
  const abs = path.resolve(p);
  if (!existsSync(abs)) {
    throw new UserError(
      `The ${title(kind)} dataset path ${abs} does not exist.`,
      `Choose the ${kind === 'cifar10' ? 'cifar-10-binary.tar.gz' : 'cifar-100-binary.tar.gz'} archive or the folder extracted from it, or download it first.`,
      'not-found',
    );
  }
  const st = statSync(abs);
  // Anything but a folder is taken for the archive: the reader refuses what is not a regular file.
  if (!st.isDirectory()) {
    if (!isTarArchive(abs)) {
      throw new UserError(
        `${abs} is not a ${title(kind)} binary archive (expected a .tar.gz file).`,
        `Choose the ${kind === 'cifar10' ? 'cifar-10-binary.tar.gz' : 'cifar-100-binary.tar.gz'} archive (the binary version, not the Python or MATLAB one) or its extracted folder.`,
        'bad-format',
      );
    }
    return { path: abs, archive: true };
  }
  for (const dir of [abs, path.join(abs, L.folder)]) {
    if (L.train.concat(L.test).some((f) => existsSync(path.join(dir, f))))
      return { path: dir, archive: false };
  }
  for (const name of readdirSafe(abs)) {
    if (L.archive.test(name)) return { path: path.join(abs, name), archive: true };
  }
  return { path: abs, archive: false }; // reported as missing files by the reader
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Files whose size and mtime identify this source (for the cache fingerprint). */
export function cifarFingerprintFiles(kind: 'cifar10' | 'cifar100', p: string): string[] {
  const src = resolveCifarSource(kind, p);
  if (src.archive) return [src.path];
  const all = layout(kind, 'fine');
  const L2 = layout(kind, 'coarse');
  return [...all.train, ...all.test, all.names, L2.names]
    .map((f) => path.join(src.path, f))
    .filter((f) => existsSync(f));
}

function parseNames(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The records a batch file of `bytes` holds, or one UserError when that is not a whole number. */
function recordsOf(name: string, bytes: number, L: Layout, where: string): number {
  const rec = L.labelBytes + 3 * PIXELS;
  if (bytes === 0 || bytes % rec !== 0)
    throw new UserError(
      `${name} in ${where} has ${bytes} bytes, which is not a whole number of ${rec}-byte records: the file is truncated or is not a CIFAR binary batch.`,
      'Download the dataset again or re-extract the archive.',
      'corrupt-data',
    );
  return bytes / rec;
}

/** The most a class-names file may hold (CIFAR-100's fine names take under 1 KiB). */
const NAMES_MAX = 1 << 20;

/**
 * The size rule of every file read (from the archive or the folder), applied before it is
 * read: batches of whole records, each split within memory (image-set.ts), a short names file.
 */
function sizeRule(L: Layout, where: string): (name: string, bytes: number) => void {
  const records = { train: 0, test: 0 };
  return (name, bytes) => {
    if (name === L.names) {
      if (bytes > NAMES_MAX)
        throw new UserError(
          `${name} in ${where} has ${bytes} bytes; a class-names file has a line per class.`,
          'Download the dataset again or re-extract the archive.',
          'corrupt-data',
        );
      return;
    }
    const split = L.train.includes(name) ? 'train' : 'test';
    records[split] += recordsOf(name, bytes, L, where);
    checkImageSet(records[split], SIDE, where);
  };
}

function decodeRecords(files: { name: string; data: Buffer }[], L: Layout, where: string): ImageSet {
  const rec = L.labelBytes + 3 * PIXELS;
  let count = 0;
  for (const f of files) count += recordsOf(f.name, f.data.length, L, where);
  const images = imageSetBuffer(count, SIDE, where);
  const labels = new Int32Array(count);
  let n = 0;
  for (const f of files) {
    const d = f.data;
    const k = d.length / rec;
    for (let r = 0; r < k; r++, n++) {
      const base = r * rec;
      const label = d[base + L.labelIndex];
      if (label >= L.classes) {
        throw new UserError(
          `${f.name} in ${where} has label ${label} in record ${r}, but there are only ${L.classes} classes: the file is corrupt or belongs to another dataset.`,
          'Check that you chose the right dataset kind (CIFAR-10 vs CIFAR-100), or download it again.',
          'corrupt-data',
        );
      }
      labels[n] = label;
      const px = base + L.labelBytes;
      const o = n * 3 * PIXELS;
      for (let i = 0; i < PIXELS; i++) {
        images[o + 3 * i] = d[px + i];
        images[o + 3 * i + 1] = d[px + PIXELS + i];
        images[o + 3 * i + 2] = d[px + 2 * PIXELS + i];
      }
    }
  }
  return { images, labels, count, size: 32 };
}

export async function loadCifar(
  kind: 'cifar10' | 'cifar100',
  p: string,
  labelsMode: 'fine' | 'coarse',
  id: string,
  opts: { onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<LoadedDataset> {
  const L = layout(kind, labelsMode);
  const src = resolveCifarSource(kind, p);
  const wanted = new Set([...L.train, ...L.test, L.names]);
  let files: Map<string, Buffer>;
  const checkSize = sizeRule(L, src.path);
  if (src.archive) {
    files = await readTarMembers(src.path, (b) => wanted.has(b), checkSize, {
      ...opts,
      stage: `Reading ${title(kind)} archive`,
    });
  } else {
    files = new Map();
    let i = 0;
    for (const f of wanted) {
      opts.signal?.throwIfAborted();
      const fp = path.join(src.path, f);
      // Bounded by the size rule, checked before the file is read.
      if (existsSync(fp))
        files.set(
          f,
          await readRegular(fp, { maxBytes: Infinity, signal: opts.signal, onSize: (n) => checkSize(f, n) }),
        );
      opts.onProgress?.({ stage: `Reading ${title(kind)} files`, fraction: ++i / wanted.size, detail: f });
    }
  }
  const missing = [...L.train, ...L.test].filter((f) => !files.has(f));
  if (missing.length > 0) {
    throw new UserError(
      `${src.path} is missing ${title(kind)} file${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`,
      `Choose the ${kind === 'cifar10' ? 'cifar-10-binary.tar.gz' : 'cifar-100-binary.tar.gz'} archive (binary version) or the complete folder extracted from it.`,
      'missing-files',
    );
  }
  opts.onProgress?.({ stage: 'Decoding images', fraction: null });
  const where = src.path;
  const train = decodeRecords(
    L.train.map((f) => ({ name: f, data: files.get(f)! })),
    L,
    where,
  );
  const test = decodeRecords(
    L.test.map((f) => ({ name: f, data: files.get(f)! })),
    L,
    where,
  );
  const warnings: string[] = [];
  let classNames: string[];
  const namesBuf = files.get(L.names);
  if (namesBuf) {
    classNames = parseNames(namesBuf.toString('utf8'));
    if (classNames.length !== L.classes) {
      warnings.push(
        `${L.names} lists ${classNames.length} class names, expected ${L.classes}; numbered names used instead.`,
      );
      classNames = Array.from({ length: L.classes }, (_, i) => `class_${i}`);
    }
  } else {
    classNames =
      kind === 'cifar10' ? [...CIFAR10_NAMES] : Array.from({ length: L.classes }, (_, i) => `class_${i}`);
    warnings.push(
      `${L.names} was not found; ${kind === 'cifar10' ? 'the standard CIFAR-10 names' : 'numbered names'} are used.`,
    );
  }
  const info: DatasetInfo = {
    id,
    kind,
    name: kind === 'cifar100' ? `CIFAR-100 (${labelsMode})` : 'CIFAR-10',
    imageSize: 32,
    classNames,
    trainCount: train.count,
    testCount: test.count,
    source: src.path,
  };
  if (warnings.length) info.warnings = warnings;
  return { info, train, test };
}
