// A combined dataset: the classes of several sources in one dataset, e.g. Tiny ImageNet plus
// a folder with two more classes (the paper's 202-class motivating example). Each part is
// loaded as usual (and cached on its own); the combination is not cached, it is only a copy:
// the classes of part 0 first, then part 1's with their labels offset, and so on, the train
// and test splits concatenated likewise, each split in one allocation.

import { createHash } from 'node:crypto';
import type { DatasetInfo, DatasetSpec, ImageSet, LoadedDataset } from '../../common/dataset.ts';
import { UserError, isUserError } from '../../common/errors.ts';
import type { LoadOptions } from './options.ts';
import { imageSetBuffer } from './image-set.ts';

export type CombinedSpec = Extract<DatasetSpec, { kind: 'combined' }>;
export type PartSpec = Exclude<DatasetSpec, { kind: 'combined' }>;

/** Checks the shape of a combined spec: at least two parts, none of them combined. */
export function checkCombined(spec: CombinedSpec): PartSpec[] {
  const parts = (spec as { parts?: unknown }).parts;
  if (!Array.isArray(parts) || parts.length < 2)
    throw new UserError(
      'A combined dataset needs at least two parts.',
      'Join two or more datasets, e.g. tinyimagenet:PATH+folder:PATH.',
      'bad-spec',
    );
  parts.forEach((p: unknown, i) => {
    if (!p || typeof p !== 'object')
      throw new UserError(`Part ${i + 1} of the combined dataset is empty.`, 'Name a dataset.', 'bad-spec');
    if ((p as { kind?: unknown }).kind === 'combined')
      throw new UserError(
        `Part ${i + 1} of the combined dataset is itself a combined dataset.`,
        'List its parts directly instead.',
        'bad-spec',
      );
  });
  return parts as PartSpec[];
}

/** The id of a combination: "combined-" and a hash of the part ids, in order. */
export function combinedId(partIds: string[]): string {
  return `combined-${createHash('sha256').update(partIds.join('\n')).digest('hex').slice(0, 12)}`;
}

/** The image size a part will have, known from its spec alone. */
export function partImageSize(spec: PartSpec): number {
  switch (spec.kind) {
    case 'cifar10':
    case 'cifar100':
      return 32;
    case 'tinyimagenet':
      return 64;
    case 'mnist':
      return spec.size ?? 32;
    case 'synthetic':
    case 'folder':
      return spec.size;
  }
}

/** The size of a part fixed by its kind (CIFAR 32, Tiny ImageNet 64); null for one that is resized. */
function fixedSize(spec: PartSpec): number | null {
  return spec.kind === 'folder' || spec.kind === 'synthetic' ? null : partImageSize(spec);
}

/**
 * One combined spec from a main source and the sources whose classes are added after its
 * own. Folder parts are resized to the size of the first part whose size is fixed (Tiny
 * ImageNet 64, CIFAR 32), so that Tiny ImageNet plus a folder gives 64x64 images whatever
 * `size` says; with no such part they take `size`. The command line's A+B and the app's
 * import both build their combined datasets here.
 */
export function combineSpecs(main: PartSpec, extras: PartSpec[], size: number): CombinedSpec {
  const parts = [main, ...extras];
  const fixed = parts.map(fixedSize).find((s) => s !== null) ?? size;
  return { kind: 'combined', parts: parts.map((p) => (p.kind === 'folder' ? { ...p, size: fixed } : p)) };
}

/** "part 2 (folder /data/person-gorilla)" */
function partLabel(spec: PartSpec, i: number): string {
  const where =
    spec.kind === 'synthetic' ? spec.name : spec.kind === 'mnist' ? `${spec.family} ${spec.path}` : spec.path;
  return `part ${i + 1} (${spec.kind} ${where})`;
}

function checkSizes(parts: PartSpec[], sizes: number[]): void {
  if (sizes.every((s) => s === sizes[0])) return;
  const list = parts.map((p, i) => `${partLabel(p, i)} is ${sizes[i]}x${sizes[i]}`).join(', ');
  // The size to aim for: that of the first part whose size is fixed (CIFAR, Tiny ImageNet).
  const fixed = parts.findIndex((p) => p.kind !== 'folder' && p.kind !== 'synthetic');
  const want = sizes[fixed < 0 ? 0 : fixed]!;
  const off = parts.filter((_, i) => sizes[i] !== want).map((p) => p.kind);
  const hints: string[] = [];
  if (off.includes('folder'))
    hints.push(`resize the folder parts to ${want}x${want} (on the command line, --size ${want})`);
  if (off.includes('synthetic')) hints.push(`use the ${want}x${want} embedded datasets (--size ${want})`);
  if (off.some((k) => k !== 'folder' && k !== 'synthetic'))
    hints.push('combine only datasets of the same size (CIFAR is 32x32, Tiny ImageNet 64x64)');
  const hint = hints.join('; ');
  throw new UserError(
    `The parts of a combined dataset must have the same image size: ${list}.`,
    `${hint.charAt(0).toUpperCase()}${hint.slice(1)}.`,
    'size-mismatch',
  );
}

/** How a part reads in the combined name: "Tiny ImageNet", "2 folder classes". */
function shortName(info: DatasetInfo): string {
  if (info.kind === 'folder') {
    const n = info.classNames.length;
    return `${n} folder class${n === 1 ? '' : 'es'}`;
  }
  return info.name;
}

function concat(sets: ImageSet[], offsets: number[], size: number): ImageSet {
  const px = size * size * 3;
  const count = sets.reduce((s, x) => s + x.count, 0);
  const images = imageSetBuffer(count, size, 'The combined dataset');
  const labels = new Int32Array(count);
  let at = 0;
  sets.forEach((s, i) => {
    images.set(s.images.subarray(0, s.count * px), at * px);
    for (let k = 0; k < s.count; k++) labels[at + k] = s.labels[k]! + offsets[i]!;
    at += s.count;
  });
  return { images, labels, count, size };
}

/**
 * Loads every part with `loadPart` (the ordinary loader, so each keeps its own cache) and
 * joins them. Sizes are checked from the specs before anything is loaded.
 */
export async function loadCombined(
  spec: CombinedSpec,
  id: string,
  opts: LoadOptions,
  loadPart: (spec: PartSpec, opts: LoadOptions) => Promise<LoadedDataset>,
): Promise<LoadedDataset> {
  const parts = checkCombined(spec);
  checkSizes(parts, parts.map(partImageSize));
  const n = parts.length;
  const ds: LoadedDataset[] = [];
  for (let i = 0; i < n; i++) {
    opts.signal?.throwIfAborted();
    const prefix = `part ${i + 1}/${n}: `;
    try {
      ds.push(
        await loadPart(parts[i]!, {
          ...opts,
          onProgress: opts.onProgress && ((p) => opts.onProgress!({ ...p, stage: prefix + p.stage })),
        }),
      );
    } catch (e) {
      if (isUserError(e))
        throw new UserError(`${capital(partLabel(parts[i]!, i))}: ${e.message}`, e.hint, e.code);
      throw e;
    }
  }
  // The specs promised these sizes; a source that decodes otherwise is caught here.
  checkSizes(
    parts,
    ds.map((d) => d.info.imageSize),
  );
  const size = ds[0]!.info.imageSize;

  const classNames: string[] = [];
  const offsets: number[] = [];
  const warnings: string[] = [];
  for (let i = 0; i < n; i++) {
    const info = ds[i]!.info;
    const earlier = new Set(classNames);
    const renamed: string[] = [];
    offsets.push(classNames.length);
    const mine: string[] = [];
    for (const name of info.classNames) {
      if (!earlier.has(name)) {
        mine.push(name);
        continue;
      }
      let alt = `${name} (${info.kind} ${i + 1})`;
      for (let k = 2; earlier.has(alt) || mine.includes(alt) || info.classNames.includes(alt); k++)
        alt = `${name} (${info.kind} ${i + 1}, ${k})`;
      mine.push(alt);
      renamed.push(`"${name}" is now "${alt}"`);
    }
    classNames.push(...mine);
    for (const w of info.warnings ?? []) warnings.push(`${capital(partLabel(parts[i]!, i))}: ${w}`);
    if (renamed.length) {
      const shown = renamed.slice(0, 20).join(', ');
      const more = renamed.length > 20 ? ` and ${renamed.length - 20} more` : '';
      warnings.push(
        `${renamed.length} class name${renamed.length === 1 ? '' : 's'} of ${partLabel(parts[i]!, i)} ${renamed.length === 1 ? 'was' : 'were'} already used by an earlier part and got a suffix: ${shown}${more}.`,
      );
    }
  }

  const infos = ds.map((d) => d.info);
  opts.onProgress?.({ stage: 'Combining the parts', fraction: null });
  const train = concat(
    ds.map((d) => d.train),
    offsets,
    size,
  );
  // Let the parts' training images go before the test split is allocated.
  for (const d of ds) d.train = EMPTY;
  const test = concat(
    ds.map((d) => d.test),
    offsets,
    size,
  );
  const info: DatasetInfo = {
    id,
    kind: 'combined',
    name: infos.map(shortName).join(' + '),
    imageSize: size,
    classNames,
    trainCount: train.count,
    testCount: test.count,
    source: infos.map((d) => `${d.kind} ${d.source}`).join('; '),
  };
  if (warnings.length) info.warnings = warnings;
  opts.onProgress?.({ stage: 'Combined', fraction: 1 });
  return { info, train, test };
}

const EMPTY: ImageSet = { images: new Uint8Array(0), labels: new Int32Array(0), count: 0, size: 0 };

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
