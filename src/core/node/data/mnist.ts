// The MNIST family (MNIST, Fashion-MNIST, Kuzushiji-MNIST, EMNIST): IDX files as released,
// gzip'd or raw. An IDX file is a 4-byte magic number (0, 0, the element type 0x08 for
// unsigned bytes, the number of dimensions), one big-endian uint32 per dimension, then the
// elements row-major. Images are [count, 28, 28], labels [count]. EMNIST stores each image
// transposed (column-major), so it is transposed back here.
//
// Grey images become the RGB input every model takes (the grey value in all three channels),
// centred on a black canvas ('pad', the default: 28 -> 32 adds a 2-pixel border) or scaled
// ('resize', bilinear). greyInto is the one place that does it, for the loader and for
// `predict` on a user's own files, so a model sees the same pixels either way.

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type {
  DatasetInfo,
  DatasetSpec,
  EmnistSplit,
  GreyFit,
  ImageSet,
  LoadedDataset,
  MnistFamily,
  Progress,
} from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { readSized } from '../fs/read.ts';
import { checkImageSet, imageSetBuffer } from './image-set.ts';

export type MnistSpec = Extract<DatasetSpec, { kind: 'mnist' }>;

export const MNIST_FAMILIES: readonly MnistFamily[] = ['mnist', 'fashion-mnist', 'kmnist', 'emnist'];
export const EMNIST_SPLITS: readonly EmnistSplit[] = [
  'balanced',
  'byclass',
  'bymerge',
  'letters',
  'digits',
  'mnist',
];
export const MNIST_DEFAULTS = { size: 32, fit: 'pad' as GreyFit, split: 'balanced' as EmnistSplit };
/** The smallest canvas a padded image fits on, and the smallest resize target. */
const MIN_RESIZE = 8;

const DIGITS = '0123456789'.split('');
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');
const LOWER = 'abcdefghijklmnopqrstuvwxyz'.split('');
// EMNIST's merged splits drop the lower-case letters whose shapes match their upper case.
const MERGED_LOWER = 'abdefghnqrt'.split('');

const TITLES: Record<MnistFamily, string> = {
  mnist: 'MNIST',
  'fashion-mnist': 'Fashion-MNIST',
  kmnist: 'Kuzushiji-MNIST',
  emnist: 'EMNIST',
};

/** The folder name torchvision keeps each family under (<root>/<Name>/raw/). */
const TORCH_FOLDER: Record<MnistFamily, string> = {
  mnist: 'MNIST',
  'fashion-mnist': 'FashionMNIST',
  kmnist: 'KMNIST',
  emnist: 'EMNIST',
};

/** Class names in label order, as each dataset's authors list them. */
export function mnistClassNames(family: MnistFamily, split: EmnistSplit = MNIST_DEFAULTS.split): string[] {
  switch (family) {
    case 'mnist':
      return [...DIGITS];
    case 'fashion-mnist':
      return [
        'T-shirt/top',
        'Trouser',
        'Pullover',
        'Dress',
        'Coat',
        'Sandal',
        'Shirt',
        'Sneaker',
        'Bag',
        'Ankle boot',
      ];
    case 'kmnist':
      return ['o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo'];
    case 'emnist':
      switch (split) {
        case 'byclass':
          return [...DIGITS, ...UPPER, ...LOWER];
        case 'bymerge':
        case 'balanced':
          return [...DIGITS, ...UPPER, ...MERGED_LOWER];
        case 'letters':
          // Upper and lower case in one class each.
          return UPPER.map((u, i) => `${u}/${LOWER[i]}`);
        case 'digits':
        case 'mnist':
          return [...DIGITS];
      }
  }
}

/** EMNIST letters numbers its classes from 1. */
const labelOffset = (spec: MnistSpec): number =>
  spec.family === 'emnist' && (spec.split ?? MNIST_DEFAULTS.split) === 'letters' ? 1 : 0;

export function mnistTitle(spec: Pick<MnistSpec, 'family' | 'split'>): string {
  return spec.family === 'emnist' ? `EMNIST ${spec.split ?? MNIST_DEFAULTS.split}` : TITLES[spec.family];
}

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

interface MnistFiles {
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

/** Files whose size and mtime identify this source. */
export function mnistFingerprintFiles(spec: MnistSpec): string[] {
  const f = resolveMnistFiles(spec);
  return [f.trainImages, f.trainLabels, f.testImages, f.testLabels];
}

function corrupt(file: string, what: string): UserError {
  return new UserError(
    `${file} ${what}: it is truncated, corrupt, or not the file its name says.`,
    'Download the dataset again (an interrupted download leaves a short file), or choose the folder of the original files.',
    'corrupt-data',
  );
}

interface Idx {
  dims: number[];
  data: Uint8Array;
}

/** The dimensions an IDX header of unsigned bytes with `ndims` dimensions gives; UserError on anything else. */
function idxDims(head: Uint8Array, ndims: 1 | 3, file: string): number[] {
  const expected = (0x0800 | ndims).toString(16).padStart(8, '0');
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08 || head[3] !== ndims) {
    const got =
      head.length < 4
        ? `only ${head.length} bytes`
        : `magic number 0x${Buffer.from(head.subarray(0, 4)).toString('hex')}`;
    throw new UserError(
      `${file} is not an IDX ${ndims === 3 ? 'image' : 'label'} file: it has ${got}, not the magic number 0x${expected}.`,
      ndims === 3
        ? 'Choose the folder of the original *-images-idx3-ubyte files (gzipped or extracted); an images file may have been swapped with a labels file.'
        : 'Choose the folder of the original *-labels-idx1-ubyte files (gzipped or extracted); a labels file may have been swapped with an images file.',
      'bad-format',
    );
  }
  if (head.length < 4 + 4 * ndims) throw corrupt(file, `ends inside its header (${head.length} bytes)`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
}

/**
 * Reads an IDX file (gzip'd or raw) of unsigned bytes with `ndims` dimensions. Its header is
 * read first and given to `check` (which refuses what the caller cannot hold) before the data
 * is: a gzip'd file is decompressed only up to the length its header says.
 */
async function readIdx(
  file: string,
  ndims: 1 | 3,
  check: (dims: number[]) => void,
  signal?: AbortSignal,
): Promise<Idx> {
  const header = 4 + 4 * ndims;
  let dims: number[] = [];
  const buf = await readSized(file, {
    headerBytes: header,
    length: (head) => {
      dims = idxDims(head, ndims, file);
      check(dims);
      return header + dims.reduce((a, b) => a * b, 1);
    },
    wrongLength: (got, want, atLeast) =>
      corrupt(
        file,
        atLeast
          ? `holds more than the ${want - header} bytes of data its header (${dims.join(' x ')}) says`
          : `holds ${got - header} bytes of data but its header (${dims.join(' x ')}) says ${want - header}`,
      ),
    badGzip: (why) => corrupt(file, `could not be decompressed (${why})`),
    signal,
  });
  return { dims, data: buf.subarray(header) };
}

/**
 * Writes one grey srcSize x srcSize image (row-major; column-major when `transposed`) as
 * RGB of size x size at out[offset], padded or resized. The one conversion every grey input
 * goes through (the loader and `predict`).
 */
export function greyInto(
  src: Uint8Array,
  srcSize: number,
  transposed: boolean,
  fit: GreyFit,
  size: number,
  out: Uint8Array,
  offset: number,
): void {
  let g = src;
  if (transposed) {
    g = new Uint8Array(srcSize * srcSize);
    for (let y = 0; y < srcSize; y++)
      for (let x = 0; x < srcSize; x++) g[y * srcSize + x] = src[x * srcSize + y]!;
  }
  if (fit === 'pad') {
    const o = (size - srcSize) >> 1;
    out.fill(0, offset, offset + size * size * 3);
    for (let y = 0; y < srcSize; y++) {
      let d = offset + ((y + o) * size + o) * 3;
      for (let x = 0, i = y * srcSize; x < srcSize; x++, i++, d += 3) {
        const v = g[i]!;
        out[d] = v;
        out[d + 1] = v;
        out[d + 2] = v;
      }
    }
    return;
  }
  const t = bilinearTaps(srcSize, size);
  for (let y = 0; y < size; y++) {
    const r0 = t.i0[y]! * srcSize;
    const r1 = t.i1[y]! * srcSize;
    const wy = t.w[y]!;
    let d = offset + y * size * 3;
    for (let x = 0; x < size; x++, d += 3) {
      const x0 = t.i0[x]!;
      const x1 = t.i1[x]!;
      const wx = t.w[x]!;
      const top = g[r0 + x0]! * (1 - wx) + g[r0 + x1]! * wx;
      const bottom = g[r1 + x0]! * (1 - wx) + g[r1 + x1]! * wx;
      const v = Math.round(top * (1 - wy) + bottom * wy);
      out[d] = v;
      out[d + 1] = v;
      out[d + 2] = v;
    }
  }
}

/** Source indices and weights of bilinear resampling, pixel centres aligned (as PIL and OpenCV), edges clamped. */
function bilinearTaps(srcSize: number, size: number): { i0: Int32Array; i1: Int32Array; w: Float64Array } {
  const key = `${srcSize}:${size}`;
  let t = taps.get(key);
  if (!t) {
    t = { i0: new Int32Array(size), i1: new Int32Array(size), w: new Float64Array(size) };
    const s = srcSize / size;
    for (let k = 0; k < size; k++) {
      const f = Math.min(Math.max((k + 0.5) * s - 0.5, 0), srcSize - 1);
      t.i0[k] = Math.floor(f);
      t.i1[k] = Math.min(t.i0[k]! + 1, srcSize - 1);
      t.w[k] = f - t.i0[k]!;
    }
    taps.set(key, t);
  }
  return t;
}
const taps = new Map<string, { i0: Int32Array; i1: Int32Array; w: Float64Array }>();

/** Checks a grey fit against the source and canvas sizes; UserError when it cannot work. */
export function checkGreyFit(fit: GreyFit, srcSize: number, size: number, what: string): void {
  if (fit !== 'pad' && fit !== 'resize')
    throw new UserError(`Unknown fit "${String(fit)}" for ${what}.`, 'Use pad or resize.', 'bad-spec');
  if (!Number.isInteger(size) || size > 512 || (fit === 'pad' ? size < srcSize : size < MIN_RESIZE))
    throw new UserError(
      `${what} cannot be ${fit === 'pad' ? 'padded' : 'resized'} to ${size}x${size}.`,
      fit === 'pad'
        ? `Padding needs a size of at least ${srcSize} (the default is 32); use resize for smaller inputs.`
        : `Use a size from ${MIN_RESIZE} to 512.`,
      'bad-size',
    );
}

async function readSplit(
  imagesFile: string,
  labelsFile: string,
  spec: MnistSpec,
  classes: number,
  size: number,
  fit: GreyFit,
  signal?: AbortSignal,
): Promise<{ set: ImageSet; srcSize: number }> {
  // The images' header is checked (shape, input size, memory) before any pixel is read, and
  // the labels' count against it before any label is.
  const img = await readIdx(
    imagesFile,
    3,
    ([count, rows, cols]) => {
      if (rows !== cols || rows === 0)
        throw new UserError(
          `${imagesFile} holds ${rows}x${cols} images; the MNIST family's are square (28x28).`,
          'Choose the original image files.',
          'bad-format',
        );
      if (count === 0)
        throw new UserError(
          `${imagesFile} holds no images.`,
          'Choose the files of a release: a split without images can be neither trained on nor tested with.',
          'no-images',
        );
      checkGreyFit(fit, rows!, size, mnistTitle(spec));
      checkImageSet(count!, size, imagesFile);
      checkImageSet(count!, rows!, imagesFile, 1);
    },
    signal,
  );
  const [count, rows, cols] = img.dims as [number, number, number];
  const lab = await readIdx(
    labelsFile,
    1,
    ([labels]) => {
      if (labels !== count)
        throw new UserError(
          `${imagesFile} holds ${count} images but ${labelsFile} holds ${labels} labels.`,
          'The two files come from different releases or one is damaged: download the dataset again.',
          'count-mismatch',
        );
    },
    signal,
  );
  const off = labelOffset(spec);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = lab.data[i]! - off;
    if (l < 0 || l >= classes)
      throw new UserError(
        `${labelsFile} has label ${lab.data[i]} at position ${i}, but ${mnistTitle(spec)} has ${classes} classes${off ? ` numbered from ${off}` : ''}.`,
        spec.family === 'emnist'
          ? 'Check that the split named matches the files (e.g. emnist-letters:PATH for the letters files).'
          : 'Check that the folder holds the files of this dataset, or download it again.',
        'corrupt-data',
      );
    labels[i] = l;
  }
  const px = rows * cols;
  const per = size * size * 3;
  const images = imageSetBuffer(count, size, imagesFile);
  const transposed = spec.family === 'emnist';
  for (let i = 0; i < count; i++)
    greyInto(img.data.subarray(i * px, (i + 1) * px), rows, transposed, fit, size, images, i * per);
  return { set: { images, labels, count, size }, srcSize: rows };
}

export async function loadMnist(
  spec: MnistSpec,
  id: string,
  opts: { onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<LoadedDataset> {
  const files = resolveMnistFiles(spec);
  const size = spec.size ?? MNIST_DEFAULTS.size;
  const fit = spec.fit ?? MNIST_DEFAULTS.fit;
  const classNames = mnistClassNames(spec.family, spec.split);
  const title = mnistTitle(spec);
  opts.onProgress?.({ stage: `Reading ${title} training files`, fraction: 0, detail: files.dir });
  const train = await readSplit(
    files.trainImages,
    files.trainLabels,
    spec,
    classNames.length,
    size,
    fit,
    opts.signal,
  );
  opts.signal?.throwIfAborted();
  opts.onProgress?.({ stage: `Reading ${title} test files`, fraction: 0.85, detail: files.dir });
  const test = await readSplit(
    files.testImages,
    files.testLabels,
    spec,
    classNames.length,
    size,
    fit,
    opts.signal,
  );
  if (test.srcSize !== train.srcSize)
    throw new UserError(
      `${files.trainImages} holds ${train.srcSize}x${train.srcSize} images but ${files.testImages} ${test.srcSize}x${test.srcSize}.`,
      'The files come from different datasets: choose the four files of one release.',
      'bad-format',
    );
  opts.onProgress?.({ stage: `Read ${title}`, fraction: 1 });
  const info: DatasetInfo = {
    id,
    kind: 'mnist',
    name: `${title}${fit === 'pad' ? '' : ` (resized to ${size}x${size})`}`,
    imageSize: size,
    classNames,
    trainCount: train.set.count,
    testCount: test.set.count,
    source: files.dir,
    grey: { sourceSize: train.srcSize, fit },
    // Mirrored, a digit, a letter or a kana is another sign (or none); clothing stays clothing.
    ...(spec.family !== 'fashion-mnist' ? { noMirror: true } : {}),
  };
  return { info, train: train.set, test: test.set };
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
  const title = TITLES[family];
  return new UserError(
    `${title} was not found on this machine (looked in ${mnistLocations(family, home).join(', ')}).`,
    family === 'fashion-mnist'
      ? `Install it (apt-get install dataset-fashion-mnist), run \`decomposer download fashion-mnist\`, or give its folder as fashion-mnist:PATH.`
      : `Run \`decomposer download ${family}\`${family === 'emnist' ? ' and extract gzip.zip into <home>/downloads/emnist' : ''}, or give its folder as ${family}:PATH.`,
    'not-found',
  );
}
