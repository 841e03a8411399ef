// Datasets the app imports, downloads and previews (the data types are in dataset.ts).
export type ImportKind = 'cifar10' | 'cifar100' | 'tinyimagenet' | 'folder';

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
