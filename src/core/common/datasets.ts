// Datasets the app imports, downloads and previews (the data types are in dataset.ts).
import { isObj, isPathString, onlyKeys } from './rules.ts';
export type ImportKind =
  'cifar10' | 'cifar100' | 'tinyimagenet' | 'mnist' | 'fashion-mnist' | 'kmnist' | 'emnist' | 'folder';

/** One more source whose classes are added to an imported dataset. */
export interface ImportPart {
  kind: ImportKind;
  path: string;
}

/** The most sources `ImportSpec.extra` may add. */
export const MAX_IMPORT_EXTRA = 8;

export interface ImportSpec {
  kind: ImportKind;
  path: string;
  /** Folders only: the input size the images are resized to. */
  size?: 32 | 64;
  /**
   * Sources whose classes come after the main one's, all as one combined dataset (e.g. Tiny
   * ImageNet plus a folder with person/ and gorilla/: the paper's 202 classes). Folders are
   * resized to the size of the first source whose size is fixed (Tiny ImageNet 64, CIFAR 32),
   * else to `size`. At most MAX_IMPORT_EXTRA; none or an empty list imports the main source alone.
   */
  extra?: ImportPart[];
}

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

export interface DatasetPreview {
  datasetId: string;
  classNames: string[];
  /** PNG data URLs, `perClass` per class (fewer when a class has fewer images). */
  images: { label: number; src: string }[];
}

// The argument checks of this feature's calls (null: fine; else what is wrong).

export function checkImportSpec(p: unknown): string | null {
  if (!isObj(p)) return 'the dataset to import must be an object';
  const unknown = onlyKeys(p, ['kind', 'path', 'size', 'extra'], 'the dataset to import');
  if (unknown) return unknown;
  if (!IMPORT_KINDS.includes(p.kind as string)) return `kind must be ${IMPORT_KINDS.join(', ')}`;
  if (!isPathString(p.path)) return 'path must be a non-empty path';
  if (p.size !== undefined && p.size !== 32 && p.size !== 64) return 'size must be 32 or 64';
  if (p.extra === undefined) return null;
  if (!Array.isArray(p.extra) || p.extra.length > MAX_IMPORT_EXTRA)
    return `extra must be a list of at most ${MAX_IMPORT_EXTRA} sources`;
  for (const [i, part] of p.extra.entries()) {
    const what = `added source ${i + 1}`;
    if (!isObj(part)) return `${what} must be an object`;
    // A kind and a path only: no size of its own, and no sources of its own (no nesting).
    const bad = onlyKeys(part, ['kind', 'path'], what);
    if (bad) return bad;
    if (!IMPORT_KINDS.includes(part.kind as string))
      return `${what}: kind must be ${IMPORT_KINDS.join(', ')}`;
    if (!isPathString(part.path)) return `${what}: path must be a non-empty path`;
  }
  return null;
}

/** What can be imported: every downloadable dataset, and a folder of images. */
export const IMPORT_KINDS: readonly string[] = [...DOWNLOADABLE_DATASETS, 'folder'];
