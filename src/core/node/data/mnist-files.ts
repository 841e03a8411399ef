// Finding an MNIST-family release on disk: its four IDX files (gzip'd as released, or
// extracted) in the folder given or the sub-folders releases and tools use, and where a family
// is looked for when no folder is given.

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { EmnistSplit, GreyFit, MnistFamily } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { MNIST_DEFAULTS, MNIST_TITLES, mnistTitle, type MnistSpec } from './mnist-family.ts';

/** The folder name torchvision keeps each family under (<root>/<Name>/raw/). */
const TORCH_FOLDER: Record<MnistFamily, string> = {
  mnist: 'MNIST',
  'fashion-mnist': 'FashionMNIST',
  kmnist: 'KMNIST',
  emnist: 'EMNIST',
};

/** The base names of the four files, without .gz: train images, train labels, test images, test labels. */
function baseNames(spec: MnistSpec): { train: [string, string]; test: [string, string] } {
  if (spec.family === 'emnist') {
    const p = `emnist-${spec.split ?? MNIST_DEFAULTS.split}`;
    return {
      train: [`${p}-train-images-idx3-ubyte`, `${p}-train-labels-idx1-ubyte`],
      test: [`${p}-test-images-idx3-ubyte`, `${p}-test-labels-idx1-ubyte`],
    };
  }
  return {
    train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
    test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
  };
}

/** Folders the files may be in: the path itself, or the sub-folders releases and tools use. */
function candidateDirs(spec: MnistSpec): string[] {
  const root = path.resolve(spec.path);
  return [
    root,
    path.join(root, 'raw'),
    path.join(root, 'gzip'),
    path.join(root, TORCH_FOLDER[spec.family], 'raw'),
  ];
}

/** The file for `base` in `dir`: as released (.gz), extracted, or with a '.' before idx (an old spelling). */
function fileIn(dir: string, base: string): string | null {
  const dotted = base.replace(/-idx(\d)-ubyte$/, '.idx$1-ubyte');
  for (const name of [`${base}.gz`, base, `${dotted}.gz`, dotted]) {
    const f = path.join(dir, name);
    if (existsSync(f)) return f;
  }
  return null;
}

export interface MnistFiles {
  dir: string;
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

/** The four files of a spec, or null when no candidate folder holds all of them. */
export function findMnistFiles(spec: MnistSpec): MnistFiles | null {
  const names = baseNames(spec);
  for (const dir of candidateDirs(spec)) {
    const f = [...names.train, ...names.test].map((b) => fileIn(dir, b));
    if (f.every((x) => x !== null))
      return { dir, trainImages: f[0]!, trainLabels: f[1]!, testImages: f[2]!, testLabels: f[3]! };
  }
  return null;
}

/** The four files, or one UserError that says which are missing and where they come from. */
export function resolveMnistFiles(spec: MnistSpec): MnistFiles {
  const abs = path.resolve(spec.path);
  const title = mnistTitle(spec);
  const fetchHint =
    spec.family === 'emnist'
      ? 'Run `decomposer download emnist` and extract gzip.zip, then choose the extracted gzip folder'
      : `Run \`decomposer download ${spec.family}\`${spec.family === 'fashion-mnist' ? ' (or apt-get install dataset-fashion-mnist)' : ''}, then choose the folder of its four files`;
  if (!existsSync(abs))
    throw new UserError(`The ${title} path ${abs} does not exist.`, `${fetchHint}.`, 'not-found');
  if (!statSync(abs).isDirectory())
    throw new UserError(
      `${abs} is a file; ${title} is read from the folder that holds its four IDX files.`,
      `Choose the folder that holds ${baseNames(spec).train[0]}.gz and the other three files.`,
      'bad-format',
    );
  const found = findMnistFiles(spec);
  if (found) return found;
  const names = baseNames(spec);
  const missing = [...names.train, ...names.test].filter(
    (b) => !candidateDirs(spec).some((d) => fileIn(d, b)),
  );
  throw new UserError(
    `${abs} does not hold the ${title} files${missing.length ? ` (missing ${missing.map((m) => `${m}[.gz]`).join(', ')})` : ''}.`,
    `${fetchHint}.`,
    'missing-files',
  );
}

/** Where a family is looked for when no path is given, first match wins. */
export function mnistLocations(family: MnistFamily, home: string): string[] {
  return [
    path.join(home, 'datasets', family),
    path.join(home, 'downloads', family),
    `/usr/share/datasets/${family}`,
  ];
}

/**
 * The spec of a family found on this machine (in the data folder, or where a Debian package
 * puts it), or null. `size` and `fit` as given (defaults otherwise).
 */
export function findMnist(
  family: MnistFamily,
  home: string,
  opts: { split?: EmnistSplit; size?: number; fit?: GreyFit } = {},
): MnistSpec | null {
  for (const dir of mnistLocations(family, home)) {
    const spec: MnistSpec = { kind: 'mnist', family, path: dir, ...opts };
    if (family !== 'emnist') delete spec.split;
    if (existsSync(dir) && findMnistFiles(spec)) return spec;
  }
  return null;
}

/** A UserError for a family not found where it is looked for. */
export function mnistNotFound(family: MnistFamily, home: string): UserError {
  const title = MNIST_TITLES[family];
  return new UserError(
    `${title} was not found on this machine (looked in ${mnistLocations(family, home).join(', ')}).`,
    family === 'fashion-mnist'
      ? `Install it (apt-get install dataset-fashion-mnist), run \`decomposer download fashion-mnist\`, or give its folder as fashion-mnist:PATH.`
      : `Run \`decomposer download ${family}\`${family === 'emnist' ? ' and extract gzip.zip into <home>/downloads/emnist' : ''}, or give its folder as ${family}:PATH.`,
    'not-found',
  );
}
