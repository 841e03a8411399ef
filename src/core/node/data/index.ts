// Datasets, each behind one interface: loadDataset(spec) gives a LoadedDataset (NHWC RGB bytes
// and int32 labels) whatever the source. Decoded non-synthetic datasets are cached under
// opts.cacheDir (see cache.ts); the embedded synthetic ones are regenerated (cheaper than
// reading a cache file); a combined dataset is joined from its parts each time (see
// combined.ts). Nothing here touches the network except downloadDataset, which is
// only called when a user asks.

import { createHash } from 'node:crypto';
import path from 'node:path';
import type { DatasetSpec, LoadedDataset } from '../../common/dataset.ts';
import { UserError, isUserError } from '../../common/errors.ts';
import { cacheFile, fingerprint, readCache, sweepTemporaries, writeCache } from './cache.ts';
import { cifarFingerprintFiles, loadCifar } from './cifar.ts';
import { checkCombined, combinedId, loadCombined } from './combined.ts';
import type { LoadOptions } from './options.ts';
import { FOLDER_DEFAULTS, listFolder, loadFolder, resolveFolder } from './folder.ts';
import { findMnist, loadMnist, MNIST_DEFAULTS, MNIST_FAMILIES, type MnistSpec } from './mnist.ts';
import { withLoadBudget } from './image-set.ts';
import { generateSynthetic, SYNTHETIC_DEFAULTS, syntheticId } from './synthetic.ts';
import { loadTinyImageNet, resolveTinyRoot, tinyFingerprintEntries } from './tinyimagenet.ts';

export { confusablePair, SHAPE_CLASSES, TEXTURE_CLASSES, generateSynthetic } from './synthetic.ts';
export { downloadDataset, type DownloadOptions } from './download.ts';
export { KNOWN_DOWNLOADS, type DownloadName } from './download-sources.ts';
export type { DownloadResult } from './resumable-fetch.ts';
export { Rng } from './random.ts';
export { RESIZE_FIT } from './images.ts';

export type { LoadOptions };

function pathHash(p: string): string {
  return createHash('sha256').update(path.resolve(p)).digest('hex').slice(0, 12);
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40) || 'folder';
}

/** A stable identifier for a spec: the same spec (same resolved path) gives the same id. */
export function datasetId(spec: DatasetSpec): string {
  switch (spec.kind) {
    case 'synthetic':
      return syntheticId(
        spec.name,
        spec.size,
        spec.seed ?? SYNTHETIC_DEFAULTS.seed,
        spec.trainPerClass ?? SYNTHETIC_DEFAULTS.trainPerClass,
        spec.testPerClass ?? SYNTHETIC_DEFAULTS.testPerClass,
      );
    case 'cifar10':
      return `cifar10-${pathHash(spec.path)}`;
    case 'cifar100':
      return `cifar100-${spec.labels ?? 'fine'}-${pathHash(spec.path)}`;
    case 'tinyimagenet':
      return `tinyimagenet-${pathHash(spec.path)}`;
    case 'mnist':
      return `mnist-${spec.family}${spec.family === 'emnist' ? `-${spec.split ?? MNIST_DEFAULTS.split}` : ''}-${spec.fit ?? MNIST_DEFAULTS.fit}${spec.size ?? MNIST_DEFAULTS.size}-${pathHash(spec.path)}`;
    case 'folder':
      return `folder-${slug(path.basename(path.resolve(spec.path)))}-${spec.size}-t${spec.testFraction ?? FOLDER_DEFAULTS.testFraction}-s${spec.seed ?? FOLDER_DEFAULTS.seed}-${pathHash(spec.path)}`;
    case 'combined':
      return combinedId(checkCombined(spec).map(datasetId));
    default:
      throw new UserError(
        `Unknown dataset kind "${String((spec as { kind: unknown }).kind)}".`,
        'Choose synthetic, cifar10, cifar100, tinyimagenet, mnist, folder or combined.',
        'bad-spec',
      );
  }
}

/** The embedded datasets (no download): both synthetic tasks at both input sizes. */
export function embeddedDatasets(): DatasetSpec[] {
  return [
    { kind: 'synthetic', name: 'shapes', size: 32 },
    { kind: 'synthetic', name: 'textures', size: 32 },
    { kind: 'synthetic', name: 'shapes', size: 64 },
    { kind: 'synthetic', name: 'textures', size: 64 },
  ];
}

/**
 * The MNIST family found on this machine without being imported: in the data folder
 * (<home>/datasets/NAME, <home>/downloads/NAME) or where a Debian package puts it
 * (/usr/share/datasets/NAME), at the default input (padded to 32). EMNIST's balanced split.
 */
export function foundDatasets(home: string): MnistSpec[] {
  return MNIST_FAMILIES.map((f) =>
    findMnist(f, home, f === 'emnist' ? { split: MNIST_DEFAULTS.split } : {}),
  ).filter((s): s is MnistSpec => s !== null);
}

const FOUND_ID = /^mnist-(mnist|fashion-mnist|kmnist|emnist)(?:-(\w+))?-(pad|resize)(\d+)-[0-9a-f]{12}$/;

/** The found dataset an id names (any fit and size a model was trained with), or null. */
export function foundSpecFromId(id: string, home: string): MnistSpec | null {
  const m = FOUND_ID.exec(id);
  if (!m) return null;
  const spec = findMnist(m[1] as MnistSpec['family'], home, {
    ...(m[2] ? { split: m[2] as MnistSpec['split'] } : {}),
    fit: m[3] as 'pad' | 'resize',
    size: Number(m[4]),
  });
  return spec && datasetId(spec) === id ? spec : null;
}

/**
 * The kinds decoded from files and cached as a whole. The MNIST family is not cached: its
 * files decode faster than a cache file of RGB images would read.
 */
type Cached = Exclude<DatasetSpec, { kind: 'synthetic' | 'combined' | 'mnist' }>;

/** Files/folders whose size and mtime identify the source, for the cache key. */
async function sourceFingerprint(spec: Cached): Promise<string> {
  switch (spec.kind) {
    case 'cifar10':
    case 'cifar100':
      return fingerprint(cifarFingerprintFiles(spec.kind, spec.path), spec);
    case 'tinyimagenet':
      return fingerprint(await tinyFingerprintEntries(resolveTinyRoot(spec.path)), spec);
    case 'folder': {
      const root = resolveFolder(spec.path);
      const { classes, files } = await listFolder(root);
      return fingerprint([...classes.map((c) => path.join(root, c)), ...files.flat()], spec);
    }
  }
}

async function decode(spec: Cached, id: string, opts: LoadOptions): Promise<LoadedDataset> {
  switch (spec.kind) {
    case 'cifar10':
      return loadCifar('cifar10', spec.path, 'fine', id, opts);
    case 'cifar100':
      return loadCifar('cifar100', spec.path, spec.labels ?? 'fine', id, opts);
    case 'tinyimagenet':
      return loadTinyImageNet(spec.path, id, opts);
    case 'folder':
      return loadFolder(
        spec.path,
        spec.size,
        spec.testFraction ?? FOLDER_DEFAULTS.testFraction,
        spec.seed ?? FOLDER_DEFAULTS.seed,
        id,
        opts,
      );
  }
}

/**
 * Loads a dataset from any source. Bad input raises one UserError that names the file and
 * what to do; a failed load never changes an existing cache file. The whole load is held to
 * one share of memory (image-set.ts), and a split without images is refused: nothing trains
 * or is judged on it.
 */
export async function loadDataset(spec: DatasetSpec, opts: LoadOptions): Promise<LoadedDataset> {
  const data = await withLoadBudget(() => loadAny(spec, opts));
  refuseEmptySplits(data);
  return data;
}

function refuseEmptySplits(data: LoadedDataset): void {
  for (const [split, set] of [
    ['training', data.train],
    ['test', data.test],
  ] as const)
    if (set.count === 0)
      throw new UserError(
        `The dataset ${data.info.name} (${data.info.source}) has no images in its ${split} split.`,
        `Nothing can be ${split === 'training' ? 'trained' : 'tested'} on it: check that its ${split} files hold images, or choose another dataset.`,
        'empty-split',
      );
}

async function loadAny(spec: DatasetSpec, opts: LoadOptions): Promise<LoadedDataset> {
  if (!spec || typeof spec !== 'object')
    throw new UserError('No dataset was given.', 'Choose a dataset.', 'bad-spec');
  const id = datasetId(spec);
  if (spec.kind === 'synthetic') {
    return generateSynthetic(spec.name, spec.size, {
      seed: spec.seed,
      trainPerClass: spec.trainPerClass,
      testPerClass: spec.testPerClass,
      onProgress: opts.onProgress,
      signal: opts.signal,
    });
  }
  // Each part is loaded (and cached) on its own; the combination is only a copy.
  if (spec.kind === 'combined') return loadCombined(spec, id, opts, loadDataset);
  try {
    if (spec.kind === 'mnist') return await loadMnist(spec, id, opts);
    opts.onProgress?.({ stage: 'Checking cache', fraction: null });
    const fp = await sourceFingerprint(spec);
    const file = cacheFile(opts.cacheDir, id);
    const cached = await readCache(file, fp);
    if (cached) {
      opts.onProgress?.({ stage: 'Loaded from cache', fraction: 1, detail: file });
      return cached;
    }
    const ds = await decode(spec, id, opts);
    opts.signal?.throwIfAborted();
    opts.onProgress?.({ stage: 'Writing cache', fraction: null, detail: file });
    try {
      await writeCache(file, fp, ds);
      await sweepTemporaries(opts.cacheDir);
    } catch (e) {
      // A cache that cannot be written only costs time next load.
      (ds.info.warnings ??= []).push(
        `The decoded dataset could not be cached in ${opts.cacheDir}: ${(e as Error).message}`,
      );
    }
    return ds;
  } catch (e) {
    if (isUserError(e) || (e instanceof Error && e.name === 'AbortError') || opts.signal?.aborted) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      throw new UserError(
        `Permission denied reading ${err.path ?? 'the dataset'}.`,
        'Check the file permissions, or copy the dataset somewhere you can read.',
        'permission',
      );
    }
    if (err.code === 'ENOENT') {
      throw new UserError(
        `${err.path ?? 'A dataset file'} does not exist.`,
        'Check the dataset path (it may have moved while loading).',
        'not-found',
      );
    }
    throw new UserError(
      `The dataset could not be read: ${err.message}.`,
      'Check that the path names the right kind of dataset, or download it again.',
      'read-failed',
    );
  }
}
