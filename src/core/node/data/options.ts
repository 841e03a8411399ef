// What every dataset loader takes: where decoded datasets are cached, progress, and cancel.
// Its own module so the loaders and the joined (combined) datasets share it without importing
// each other.
import type { Progress } from '../../common/dataset.ts';

export interface LoadOptions {
  cacheDir: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}
