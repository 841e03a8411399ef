// Datasets the app imports (one schema), downloads and previews (the data types are in
// dataset.ts).
import { PATH, v, fields } from './schema.ts';
export const DOWNLOADABLE_DATASETS = [
  'cifar10',
  'cifar100',
  'tinyimagenet',
  'mnist',
  'fashion-mnist',
  'kmnist',
  'emnist',
] as const;

export type DownloadableDataset = (typeof DOWNLOADABLE_DATASETS)[number];

/** What can be imported: every downloadable dataset, and a folder of images. */
export const IMPORT_KINDS = [...DOWNLOADABLE_DATASETS, 'folder'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

const IMPORT_KIND = v.picklist(IMPORT_KINDS, `must be ${IMPORT_KINDS.join(', ')}`);

/** The most sources `ImportSpec.extra` may add. */
export const MAX_IMPORT_EXTRA = 8;

/** One more source whose classes are added to an imported dataset: a kind and a path only (no nesting). */
const IMPORT_PART = fields({ kind: IMPORT_KIND, path: PATH });

export type ImportPart = v.InferOutput<typeof IMPORT_PART>;

export const IMPORT_SPEC = fields({
  kind: IMPORT_KIND,
  path: PATH,
  /** Folders only: the input size the images are resized to. */
  size: v.optional(v.picklist([32, 64], 'must be 32 or 64')),
  /**
   * Sources whose classes come after the main one's, all as one combined dataset (e.g. Tiny
   * ImageNet plus a folder with person/ and gorilla/: the paper's 202 classes). Folders are
   * resized to the size of the first source whose size is fixed (Tiny ImageNet 64, CIFAR 32),
   * else to `size`. None or an empty list imports the main source alone.
   */
  extra: v.optional(
    v.pipe(
      v.array(IMPORT_PART, `must be a list of at most ${MAX_IMPORT_EXTRA} sources`),
      v.maxLength(MAX_IMPORT_EXTRA, `must be a list of at most ${MAX_IMPORT_EXTRA} sources`),
    ),
  ),
});

export type ImportSpec = v.InferOutput<typeof IMPORT_SPEC>;

export interface DatasetPreview {
  datasetId: string;
  classNames: string[];
  /** PNG data URLs, `perClass` per class (fewer when a class has fewer images). */
  images: { label: number; src: string }[];
}
