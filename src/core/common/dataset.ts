// Dataset types shared by the core, the shells and the UI; a dataset's spec and description
// are schemas, as they are read back (the imported-datasets registry, the dataset cache).
// Images are 8-bit RGB, stored row-major in height-width-channel order (NHWC), the layout
// tfjs uses.
import { v } from './schema.ts';

export const DATASET_KINDS = [
  'synthetic',
  'cifar10',
  'cifar100',
  'tinyimagenet',
  'mnist',
  'folder',
  'combined',
] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** The MNIST family: 28x28 grey images in IDX files (the predecessor's datasets). */
export const MNIST_FAMILIES = ['mnist', 'fashion-mnist', 'kmnist', 'emnist'] as const;
export type MnistFamily = (typeof MNIST_FAMILIES)[number];
/** EMNIST's splits (one release holds them all). */
export const EMNIST_SPLITS = ['balanced', 'byclass', 'bymerge', 'letters', 'digits', 'mnist'] as const;
export type EmnistSplit = (typeof EMNIST_SPLITS)[number];

/**
 * How grey images become the square RGB input every model takes: the grey value in all three
 * channels, the image centred on a black `size` x `size` canvas ('pad') or scaled to it
 * ('resize', bilinear). Recorded with a model so that every later use feeds it the same way.
 */
export const GREY_FITS = ['pad', 'resize'] as const;
export type GreyFit = (typeof GREY_FITS)[number];
const GREY_INPUT = v.object({
  /** The side of the original grey images (28 for the MNIST family). */
  sourceSize: v.number(),
  fit: v.picklist(GREY_FITS),
});
export type GreyInput = v.InferOutput<typeof GREY_INPUT>;

/** The embedded datasets: two different synthetic tasks of the same input size. */
export const SYNTHETIC_NAMES = ['shapes', 'textures'] as const;
export type SyntheticName = (typeof SYNTHETIC_NAMES)[number];

/** One source of images. Paths may name an archive or an extracted folder. */
const PART_SPEC = v.variant('kind', [
  v.object({
    kind: v.literal('synthetic'),
    name: v.picklist(SYNTHETIC_NAMES),
    size: v.picklist([32, 64]),
    seed: v.optional(v.number()),
    trainPerClass: v.optional(v.number()),
    testPerClass: v.optional(v.number()),
  }),
  v.object({ kind: v.literal('cifar10'), path: v.string() }),
  v.object({
    kind: v.literal('cifar100'),
    path: v.string(),
    labels: v.optional(v.picklist(['fine', 'coarse'])),
  }),
  v.object({ kind: v.literal('tinyimagenet'), path: v.string() }),
  /** IDX files as released (gzip'd or not); size defaults to 32, fit to 'pad'. */
  v.object({
    kind: v.literal('mnist'),
    family: v.picklist(MNIST_FAMILIES),
    path: v.string(),
    split: v.optional(v.picklist(EMNIST_SPLITS)),
    size: v.optional(v.number()),
    fit: v.optional(v.picklist(GREY_FITS)),
  }),
  v.object({
    kind: v.literal('folder'),
    path: v.string(),
    size: v.number(),
    testFraction: v.optional(v.number()),
    seed: v.optional(v.number()),
  }),
]);

/**
 * Where a dataset comes from: one source, or several as one (`combined`): the classes of
 * parts[0] first, then those of parts[1], and so on; at least two parts, none of them
 * combined, all of the same image size (data/combined.ts checks the rest).
 */
export const DATASET_SPEC = v.variant('kind', [
  ...PART_SPEC.options,
  v.object({ kind: v.literal('combined'), parts: v.array(PART_SPEC) }),
]);
export type DatasetSpec = v.InferOutput<typeof DATASET_SPEC>;

export const DATASET_INFO = v.object({
  /** Stable identifier derived from the spec (used for cache files and the store). */
  id: v.string(),
  kind: v.picklist(DATASET_KINDS),
  name: v.string(),
  /** Height and width of every image (square). */
  imageSize: v.number(),
  classNames: v.array(v.string()),
  trainCount: v.number(),
  testCount: v.number(),
  /** Human-readable origin: a path, or "embedded (seed 1)". */
  source: v.string(),
  /** Listed because its files were found on this machine (read in place, not imported). */
  found: v.optional(v.boolean()),
  /** Set when the images were grey (MNIST family): how they became RGB of imageSize. */
  grey: v.optional(GREY_INPUT),
  /** Mirroring changes what an image shows (digits, letters): augmentation does not flip it. */
  noMirror: v.optional(v.boolean()),
  /** Things a person should know about the load (skipped files, substituted names). */
  warnings: v.optional(v.array(v.string())),
});
export type DatasetInfo = v.InferOutput<typeof DATASET_INFO>;

export interface ImageSet {
  /** count * size * size * 3 bytes, NHWC, RGB. */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  size: number;
}

export interface LoadedDataset {
  info: DatasetInfo;
  train: ImageSet;
  test: ImageSet;
}

export interface Progress {
  /** What is being done, in a few words. */
  stage: string;
  /** Fraction in [0, 1], or null when unknown. */
  fraction: number | null;
  detail?: string;
  /** Downloads: bytes received so far (including a resumed part) and the total, if known. */
  bytes?: number;
  totalBytes?: number | null;
}
