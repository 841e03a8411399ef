// Dataset types shared by the core, the shells and the UI. Images are 8-bit RGB, stored
// row-major in height-width-channel order (NHWC), the layout tfjs uses.

export type DatasetKind =
  'synthetic' | 'cifar10' | 'cifar100' | 'tinyimagenet' | 'mnist' | 'folder' | 'combined';

/** The MNIST family: 28x28 grey images in IDX files (the predecessor's datasets). */
export type MnistFamily = 'mnist' | 'fashion-mnist' | 'kmnist' | 'emnist';
/** EMNIST's splits (one release holds them all). */
export type EmnistSplit = 'balanced' | 'byclass' | 'bymerge' | 'letters' | 'digits' | 'mnist';

/**
 * How grey images become the square RGB input every model takes: the grey value in all three
 * channels, the image centred on a black `size` x `size` canvas ('pad') or scaled to it
 * ('resize', bilinear). Recorded with a model so that every later use feeds it the same way.
 */
export type GreyFit = 'pad' | 'resize';
export interface GreyInput {
  /** The side of the original grey images (28 for the MNIST family). */
  sourceSize: number;
  fit: GreyFit;
}

/** Where a dataset comes from. Paths may name an archive or an extracted folder. */
export type DatasetSpec =
  | {
      kind: 'synthetic';
      name: SyntheticName;
      size: 32 | 64;
      seed?: number;
      trainPerClass?: number;
      testPerClass?: number;
    }
  | { kind: 'cifar10'; path: string }
  | { kind: 'cifar100'; path: string; labels?: 'fine' | 'coarse' }
  | { kind: 'tinyimagenet'; path: string }
  /** IDX files as released (gzip'd or not); size defaults to 32, fit to 'pad'. */
  | { kind: 'mnist'; family: MnistFamily; path: string; split?: EmnistSplit; size?: number; fit?: GreyFit }
  | { kind: 'folder'; path: string; size: number; testFraction?: number; seed?: number }
  /**
   * Several datasets as one: the classes of parts[0] first, then those of parts[1], and so
   * on. At least two parts, none of them combined, all of the same image size.
   */
  | { kind: 'combined'; parts: DatasetSpec[] };

/** The embedded datasets: two different synthetic tasks of the same input size. */
export type SyntheticName = 'shapes' | 'textures';

export interface DatasetInfo {
  /** Stable identifier derived from the spec (used for cache files and the store). */
  id: string;
  kind: DatasetKind;
  name: string;
  /** Height and width of every image (square). */
  imageSize: number;
  classNames: string[];
  trainCount: number;
  testCount: number;
  /** Human-readable origin: a path, or "embedded (seed 1)". */
  source: string;
  /** Listed because its files were found on this machine (read in place, not imported). */
  found?: boolean;
  /** Set when the images were grey (MNIST family): how they became RGB of imageSize. */
  grey?: GreyInput;
  /** Mirroring changes what an image shows (digits, letters): augmentation does not flip it. */
  noMirror?: boolean;
  /** Things a person should know about the load (skipped files, substituted names). */
  warnings?: string[];
}

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
