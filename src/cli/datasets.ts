// Dataset arguments: "shapes" or "textures" (embedded), "cifar10:PATH", "cifar100:PATH",
// "tinyimagenet:PATH", "folder:PATH", the MNIST family ("fashion-mnist" where it is found on
// this machine, or "fashion-mnist:PATH"; "emnist-letters:PATH" and the other EMNIST splits),
// and "A+B+..." for one dataset made of several (the classes of A, then those of B, ...),
// e.g. tinyimagenet:PATH+folder:PATH.
import type { DatasetSpec, EmnistSplit, GreyFit, MnistFamily } from '../core/common/dataset.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/common/errors.ts';
import { didYouMean } from '../core/common/suggest.ts';
import { combineSpecs, type PartSpec } from '../core/node/data/combined.ts';
import { KNOWN_DOWNLOADS } from '../core/node/data/download-sources.ts';
import { EMNIST_SPLITS, findMnist, MNIST_FAMILIES, mnistNotFound } from '../core/node/data/mnist.ts';
import { dataHome, downloadsDir } from '../core/node/paths.ts';

export const DATASET_HELP =
  'shapes | textures (embedded, offline) | cifar10:PATH | cifar100:PATH | tinyimagenet:PATH | folder:PATH | ' +
  'mnist | fashion-mnist | kmnist | emnist[-balanced|-byclass|-bymerge|-letters|-digits|-mnist] ' +
  '(IDX files, gzip’d or not: NAME alone where found in <home>/datasets/NAME, <home>/downloads/NAME or ' +
  '/usr/share/datasets/NAME, else NAME:PATH; 28x28 grey images padded to 32, scaled to other sizes, or see --fit) | ' +
  'A+B+... (one dataset with the classes of each part in order, e.g. tinyimagenet:PATH+folder:PATH; ' +
  'a folder part takes the size of the tinyimagenet (64) or cifar (32) part; ' +
  "a '+' right before a dataset name such as 'folder:' always separates parts, so a path containing '+folder:' cannot be used)";

const NAMES = [
  'shapes',
  'textures',
  'synthetic',
  'cifar10',
  'cifar100',
  'tinyimagenet',
  'imagenet200',
  'folder',
  ...MNIST_FAMILIES,
  ...EMNIST_SPLITS.map((s) => `emnist-${s}`),
];

/** '+' followed by a dataset name (and ':', another '+', or the end) separates parts. */
const SEPARATOR = new RegExp(`\\+(?=(?:${NAMES.join('|')})(?::|\\+|$))`);

/** What a dataset argument may need besides its text: the data folder, and how grey images fit. */
export interface ParseOptions {
  /** Where the MNIST family is looked for when no path is given (default: the data folder). */
  home?: string;
  /** Grey images (MNIST family): 'pad' (default) or 'resize' to `size`. */
  fit?: GreyFit;
}

export function parseDatasetArg(
  arg: string,
  size: number,
  seed: number,
  opts: ParseOptions = {},
): DatasetSpec {
  const pieces = arg.split(SEPARATOR);
  if (pieces.length === 1) return parseOne(arg, size, seed, opts);
  // Folder parts are resized to the size of the first part whose size is fixed, so that
  // tinyimagenet:PATH+folder:PATH gives 64x64 images without --size 64.
  const [main, ...extras] = pieces.map((p) => parseOne(p, size, seed, opts));
  return combineSpecs(main!, extras, size);
}

/** "emnist-letters" -> family emnist, split letters; "fashion-mnist" -> that family. */
function mnistName(kind: string): { family: MnistFamily; split?: EmnistSplit } | null {
  if ((MNIST_FAMILIES as string[]).includes(kind)) return { family: kind as MnistFamily };
  const m = /^emnist-(\w+)$/.exec(kind);
  if (m && (EMNIST_SPLITS as string[]).includes(m[1]!))
    return { family: 'emnist', split: m[1] as EmnistSplit };
  return null;
}

/** What a mistyped or unknown dataset name is told: the names, in one short line. */
const DATASET_NAMES =
  'shapes, textures (embedded), mnist, fashion-mnist, kmnist, emnist[-SPLIT], cifar10, cifar100, tinyimagenet, folder:PATH, or A+B';

function unknownDataset(arg: string, kind: string): UserError {
  // In "shapes+texturs" the part that is not a name is the one to point at.
  const part = kind.split('+').find((k) => !NAMES.includes(k)) ?? kind;
  const where = part === arg ? '' : ` in "${arg}"`;
  return new UserError(
    `Unknown dataset "${part}"${where}.${didYouMean(part, NAMES, (n) => `"${n}"`)}`,
    `Datasets: ${DATASET_NAMES} (decomposer train --help says more).`,
    'bad-dataset',
  );
}

/** Where `decomposer download NAME` leaves a dataset read without a path, when it is there. */
function downloaded(kind: 'cifar10' | 'cifar100' | 'tinyimagenet', home: string): string | null {
  const file = kind === 'tinyimagenet' ? 'tiny-imagenet-200' : KNOWN_DOWNLOADS[kind].fileName;
  const found = [path.join(downloadsDir(home), file), path.join(home, 'datasets', file)];
  return found.find((f) => existsSync(f)) ?? null;
}

function needsPath(kind: 'cifar10' | 'cifar100' | 'tinyimagenet' | 'folder', home: string): UserError {
  if (kind === 'folder')
    return new UserError(
      'A folder dataset needs its path.',
      'Write it as folder:PATH, PATH holding one sub-folder of images per class.',
      'bad-dataset',
    );
  const title = KNOWN_DOWNLOADS[kind].title;
  const after =
    kind === 'tinyimagenet'
      ? `extract tiny-imagenet-200.zip in ${downloadsDir(home)}, then --dataset tinyimagenet finds it`
      : `then --dataset ${kind} finds it`;
  return new UserError(
    `${title} is not on this machine (looked in ${downloadsDir(home)} and ${path.join(home, 'datasets')}).`,
    `Run \`decomposer download ${kind}\` (${after}), or give its path as ${kind}:PATH.`,
    'not-found',
  );
}

function parseOne(arg: string, size: number, seed: number, opts: ParseOptions): PartSpec {
  const i = arg.indexOf(':');
  const kind = i < 0 ? arg : arg.slice(0, i);
  const p = i < 0 ? '' : arg.slice(i + 1);
  const home = opts.home ?? dataHome(process.env.DECOMPOSER_HOME);
  const grey = mnistName(kind);
  if (grey) {
    // Padding fits 28x28 on the default 32x32 canvas (and at 28 leaves them as they are);
    // other sizes are scaled unless told.
    const fit = opts.fit ?? (size === 32 || size === 28 ? 'pad' : 'resize');
    const split = grey.family === 'emnist' ? { split: grey.split ?? 'balanced' } : {};
    if (p) return { kind: 'mnist', family: grey.family, path: p, ...split, size, fit };
    const found = findMnist(grey.family, home, { ...split, size, fit });
    if (!found) throw mnistNotFound(grey.family, home);
    return found;
  }
  if (kind === 'shapes' || kind === 'textures' || kind === 'synthetic') {
    if (size !== 32 && size !== 64)
      throw new UserError(
        `The embedded datasets come in 32x32 and 64x64, not ${size}.`,
        'Use --size 32 or --size 64.',
        'bad-size',
      );
    return { kind: 'synthetic', name: kind === 'textures' ? 'textures' : 'shapes', size, seed };
  }
  if (!NAMES.includes(kind)) throw unknownDataset(arg, kind);
  const named =
    kind === 'imagenet200' ? 'tinyimagenet' : (kind as 'cifar10' | 'cifar100' | 'tinyimagenet' | 'folder');
  const at = p || (named === 'folder' ? null : downloaded(named, home));
  if (!at) throw needsPath(named, home);
  switch (named) {
    case 'cifar10':
    case 'cifar100':
      return { kind: named, path: at };
    case 'tinyimagenet':
      return { kind: 'tinyimagenet', path: at };
    case 'folder':
      return { kind: 'folder', path: at, size, seed };
  }
}
