// The catalogue of datasets the app and the commands know: the embedded ones (always), the
// MNIST family where it is found on this machine (read in place, nothing imported), and those
// the user imported by path, kept in <home>/datasets.json (written atomically); a dataset id
// resolved to its spec. Also thumbnails for a preview grid.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  DATASET_INFO,
  DATASET_SPEC,
  type DatasetInfo,
  type DatasetSpec,
  type LoadedDataset,
} from '../../common/dataset.ts';
import { parseJsonWith, v } from '../../common/schema.ts';
import type { DatasetPreview } from '../../common/api.ts';
import { UserError } from '../../common/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { readRegularText, TEXT_MAX } from '../fs/read.ts';
import { cacheDir } from '../paths.ts';
import { datasetId, embeddedDatasets, foundDatasets, foundSpecFromId, loadDataset } from './index.ts';
import { MNIST_DEFAULTS, mnistClassNames, mnistTitle } from './mnist.ts';
import { pngDataUrl } from './png.ts';
import { SYNTHETIC_DEFAULTS, syntheticClassNames } from './synthetic.ts';

/** One imported dataset as the registry keeps it: any spec, combined ones included. */
const IMPORTED = v.object({ spec: DATASET_SPEC, info: DATASET_INFO });
type Imported = v.InferOutput<typeof IMPORTED>;

const registryFile = (home: string) => path.join(home, 'datasets.json');

/** The registry's entries as written, each still unread; [] when there is none. */
async function registryEntries(home: string): Promise<unknown[]> {
  const file = registryFile(home);
  const text = await readRegularText(file, { maxBytes: TEXT_MAX }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '[]';
    throw e;
  });
  return parseJsonWith(
    v.array(v.unknown(), 'must be a list of imported datasets'),
    text,
    file,
    'Fix the file or move it aside, then import again (nothing was overwritten).',
    'bad-registry',
  );
}

/** The imported datasets; an entry that does not fit its schema is left out, the others listed. */
export async function readImported(home: string): Promise<Imported[]> {
  const entries = await registryEntries(home).catch(() => []);
  return entries.flatMap((d) => {
    const r = v.safeParse(IMPORTED, d);
    return r.success ? [r.output] : [];
  });
}

/** Adds (or replaces) one entry; every other entry is kept as written, even one this version cannot read. */
export async function addImported(home: string, spec: DatasetSpec, info: DatasetInfo): Promise<void> {
  const sameId = (d: unknown) => v.is(v.object({ info: v.object({ id: v.literal(info.id) }) }), d);
  const list = (await registryEntries(home)).filter((d) => !sameId(d));
  list.push({ spec, info });
  await fsp.mkdir(home, { recursive: true });
  await writeFileAtomic(registryFile(home), JSON.stringify(list, null, 1));
}

/** Every dataset the app knows: the embedded ones, those found on this machine, those imported. */
export async function knownDatasets(home: string): Promise<DatasetInfo[]> {
  const found = listFoundDatasets(home);
  const imported = (await readImported(home))
    .map((d) => d.info)
    .filter((d) => !found.some((f) => f.id === d.id));
  return [...listEmbeddedDatasets(), ...found, ...imported];
}

/** The embedded datasets, described without generating their images. */
export function listEmbeddedDatasets(): DatasetInfo[] {
  const out: DatasetInfo[] = [];
  for (const spec of embeddedDatasets()) {
    if (spec.kind !== 'synthetic') continue;
    const classNames = syntheticClassNames(spec.name);
    const seed = spec.seed ?? SYNTHETIC_DEFAULTS.seed;
    out.push({
      id: datasetId(spec),
      kind: 'synthetic',
      name: `${spec.name} ${spec.size}x${spec.size}`,
      imageSize: spec.size,
      classNames,
      trainCount: (spec.trainPerClass ?? SYNTHETIC_DEFAULTS.trainPerClass) * classNames.length,
      testCount: (spec.testPerClass ?? SYNTHETIC_DEFAULTS.testPerClass) * classNames.length,
      source: `embedded (seed ${seed})`,
    });
  }
  return out;
}

/** The releases' split sizes (train, test), to list a found dataset without reading it. */
const MNIST_COUNTS: Record<string, [number, number]> = {
  mnist: [60000, 10000],
  'fashion-mnist': [60000, 10000],
  kmnist: [60000, 10000],
  'emnist-balanced': [112800, 18800],
};

/** The MNIST family found on this machine, described without reading its files. */
export function listFoundDatasets(home: string): DatasetInfo[] {
  return foundDatasets(home).map((spec) => {
    const key = spec.family === 'emnist' ? `emnist-${spec.split ?? MNIST_DEFAULTS.split}` : spec.family;
    const [train, test] = MNIST_COUNTS[key] ?? [0, 0];
    const size = spec.size ?? MNIST_DEFAULTS.size;
    return {
      id: datasetId(spec),
      kind: 'mnist',
      name: mnistTitle(spec),
      imageSize: size,
      classNames: mnistClassNames(spec.family, spec.split),
      trainCount: train,
      testCount: test,
      source: spec.path,
      found: true,
      grey: { sourceSize: 28, fit: spec.fit ?? MNIST_DEFAULTS.fit },
    };
  });
}

/** The spec of a dataset id; embedded datasets may ask for fewer images per class. */
export async function resolveDataset(
  home: string,
  id: string,
  perClass?: number | null,
): Promise<DatasetSpec> {
  const embedded = embeddedDatasets().find((s) => datasetId(s) === id);
  if (embedded) {
    if (embedded.kind === 'synthetic' && perClass)
      return { ...embedded, trainPerClass: perClass, testPerClass: Math.max(10, Math.round(perClass / 2)) };
    return embedded;
  }
  const onMachine = foundSpecFromId(id, home);
  if (onMachine) return onMachine;
  const found = (await readImported(home)).find((d) => d.info.id === id);
  if (!found)
    throw new UserError(
      `No dataset with id "${id}".`,
      'Choose one on the Datasets page, or import it first.',
      'no-dataset',
    );
  return found.spec;
}

export async function loadById(
  home: string,
  id: string,
  perClass?: number | null,
  signal?: AbortSignal,
  onProgress?: (p: { stage: string; fraction: number | null }) => void,
): Promise<LoadedDataset> {
  const spec = await resolveDataset(home, id, perClass);
  return loadDataset(spec, { cacheDir: cacheDir(home), signal, onProgress });
}

/** A few training images per class as PNG data URLs. */
export async function previewDataset(home: string, id: string, perClass: number): Promise<DatasetPreview> {
  const data = await loadById(home, id);
  const { train } = data;
  const per = train.size * train.size * 3;
  const counts = new Map<number, number>();
  const images: DatasetPreview['images'] = [];
  const classes = data.info.classNames.length;
  for (let i = 0; i < train.count && images.length < classes * perClass; i++) {
    const label = train.labels[i]!;
    const n = counts.get(label) ?? 0;
    if (n >= perClass) continue;
    counts.set(label, n + 1);
    images.push({
      label,
      src: pngDataUrl(train.images.subarray(i * per, (i + 1) * per), train.size, train.size),
    });
  }
  images.sort((a, b) => a.label - b.label);
  return { datasetId: data.info.id, classNames: data.info.classNames, images };
}
