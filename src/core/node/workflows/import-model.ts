// Bringing your own model, for the CLI and the app alike: an ONNX file read into a plan
// (graph/onnx-import), the dataset it is judged on loaded at the model's input size, and a
// model folder written with where the model came from and how its inputs are made. Every
// check runs before anything is written: a refused file, a folder that already holds a
// model, class names or preprocessing values that do not fit, each one message.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { DatasetSpec, GreyFit, LoadedDataset, Progress } from '../../common/dataset.ts';
import { isUserError, UserError } from '../../common/errors.ts';
import type { ImportedModelView, ImportModelParams } from '../../common/models.ts';
import { loadDataset } from '../data/index.ts';
import { readRegular } from '../fs/read.ts';
import { describePreprocess } from '../graph/inputs.ts';
import { importOnnx } from '../graph/onnx-import/index.ts';
import { importTfjsLayers, isTfjsLayers } from './import-tfjs.ts';
import { addImportedModel } from '../models/imported.ts';
import {
  MODEL_JSON,
  PLAN_JSON,
  saveModelDir,
  type ModelMeta,
  type PlanArtifacts,
  type Preprocess,
} from '../models/io.ts';
import { cacheDir } from '../paths.ts';

/** The largest ONNX file read whole (larger models keep their weights in external data). */
export const ONNX_MAX = 2 ** 31;

export interface ImportModelRequest extends Omit<ImportModelParams, 'dataset'> {
  /** The dataset, given the model's input size (and how grey images fit it). */
  dataset: (size: number, fit: GreyFit | undefined) => DatasetSpec | Promise<DatasetSpec>;
}

export interface ImportModelOptions {
  home: string;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

/** What an exporter's folding of batch normalisation means for the user. */
export const FOLDED_NOTE =
  'BatchNormalization was folded into the convolutions by the exporter: exact for inference, but a baseline that trains this architecture from scratch trains it without normalisation. To keep it, export the model in eval mode with training=torch.onnx.TrainingMode.PRESERVE.';

/** A dataset spec at another input size, where its kind can be read at any size. */
export function datasetAtSize(spec: DatasetSpec, size: number, fit: GreyFit | undefined): DatasetSpec {
  switch (spec.kind) {
    case 'mnist':
      return { ...spec, size, fit: fit ?? spec.fit };
    case 'folder':
      return { ...spec, size };
    case 'synthetic':
      return size === 32 || size === 64 ? { ...spec, size } : spec;
    case 'combined':
      return { ...spec, parts: spec.parts.map((p) => datasetAtSize(p, size, fit) as typeof p) };
    default:
      return spec;
  }
}

/** Refuses a folder that is a file or already holds a model: an import never replaces one. */
async function checkOut(out: string): Promise<void> {
  const st = await fsp.stat(out).catch(() => null);
  if (st && !st.isDirectory())
    throw new UserError(`${out} is a file.`, 'Give --out a new folder for the imported model.', 'bad-out');
  for (const f of [MODEL_JSON, PLAN_JSON])
    if (await fsp.stat(path.join(out, f)).catch(() => null))
      throw new UserError(
        `${out} already holds a model (${f}): an import never replaces one.`,
        'Give --out a new folder (or delete the old model first). Nothing was written.',
        'model-exists',
      );
}

async function readFile(file: string): Promise<Uint8Array> {
  try {
    return await readRegular(file, { maxBytes: ONNX_MAX });
  } catch (e) {
    if (isUserError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? `No file at ${file}.` : `Cannot read ${file} (${code}).`,
      code === 'ENOENT' ? 'Give the path of the .onnx file.' : 'Check the file and its permissions.',
      'no-file',
    );
  }
}

/** The recorded preprocessing: --mean/--std after scaling to 0..1, one value or one per channel. */
function preprocessOf(req: ImportModelRequest, channels: number): Preprocess {
  const mean = req.mean ?? [0];
  const std = req.std ?? [1];
  for (const [flag, xs] of [
    ['--mean', mean],
    ['--std', std],
  ] as const)
    if (xs.length !== 1 && xs.length !== channels)
      throw new UserError(
        `${flag} gives ${xs.length} values, but the model takes ${channels}-channel images.`,
        `Give one value (for every channel) or ${channels}. Nothing was written.`,
        'usage',
      );
  return { scale: '0..1', mean, std };
}

function layerCounts(imported: { artifacts: PlanArtifacts }): string {
  const counts = new Map<string, number>();
  for (const n of imported.artifacts.plan.nodes)
    if (n.className !== 'InputLayer') counts.set(n.className, (counts.get(n.className) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
}

/** The model `file` names, read as an import: an ONNX file, or a tfjs-layers folder (or its model.json). */
async function readImport(file: string, req: ImportModelRequest) {
  if (await isTfjsLayers(file)) {
    if (req.layout && req.layout !== 'nhwc')
      throw new UserError(
        'A tfjs-layers model takes NHWC input: --layout nchw does not apply.',
        'Leave out --layout. Nothing was written.',
        'usage',
      );
    const imported = await importTfjsLayers(file);
    const origin = {
      file: path.basename(path.dirname(imported.file)),
      sha256: imported.sha256,
      bytes: imported.bytes,
      format: 'tfjs-layers' as const,
    };
    return { imported, origin };
  }
  const bytes = await readFile(file);
  const imported = await importOnnx(bytes, { file, ...(req.layout ? { layout: req.layout } : {}) });
  const origin = {
    file: path.basename(file),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
    format: 'onnx' as const,
    opset: imported.opset,
    irVersion: imported.irVersion,
  };
  return { imported, origin };
}

/** Imports an ONNX model into a new model folder; nothing is written unless every check passes. */
export async function importModel(
  req: ImportModelRequest,
  o: ImportModelOptions,
): Promise<ImportedModelView> {
  const file = path.resolve(req.file);
  const out = path.resolve(req.out);
  await checkOut(out);
  o.onProgress?.({ stage: `Reading ${path.basename(file)}`, fraction: null });
  const { imported, origin } = await readImport(file, req);
  o.signal?.throwIfAborted();
  const [size, , channels] = imported.inputShape;
  const preprocess = preprocessOf(req, channels);
  if (req.classes && req.classes.length !== imported.classes)
    throw new UserError(
      `--classes names ${req.classes.length} classes, but the model has ${imported.classes} outputs.`,
      `Name one class per output, in the order of the model's outputs. Nothing was written.`,
      'class-mismatch',
    );
  o.onProgress?.({ stage: 'Loading the dataset', fraction: null });
  const spec = await req.dataset(size, req.fit ?? undefined);
  const data: LoadedDataset = await loadDataset(spec, {
    cacheDir: cacheDir(o.home),
    signal: o.signal,
    onProgress: (p) => o.onProgress?.({ ...p, stage: `Loading the dataset: ${p.stage}` }),
  });
  if (data.info.imageSize !== size)
    throw new UserError(
      `The model takes ${size}×${size} images but the dataset ${data.info.name} has ${data.info.imageSize}×${data.info.imageSize}.`,
      `Use a dataset that can be read at ${size}×${size} (a folder of images, the MNIST family, or the embedded datasets at 32 or 64). Nothing was written.`,
      'model-data-mismatch',
    );
  if (data.info.classNames.length !== imported.classes)
    throw new UserError(
      `The model has ${imported.classes} outputs but the dataset ${data.info.name} has ${data.info.classNames.length} classes.`,
      'Use the dataset the model was trained on (its classes in the order of the outputs). Nothing was written.',
      'class-mismatch',
    );
  const source = {
    ...origin,
    producer: imported.producer,
    layout: imported.layout,
    output: imported.output,
    batchNorm: imported.batchNorm,
    importedAt: new Date().toISOString(),
  };
  const classNames = req.classes ?? data.info.classNames;
  const meta: ModelMeta = {
    architecture: 'imported',
    source,
    inputSize: size,
    classes: imported.classes,
    classNames,
    datasetId: data.info.id,
    datasetName: data.info.name,
    preprocess,
    ...(data.info.grey ? { grey: data.info.grey } : {}),
  };
  o.signal?.throwIfAborted();
  o.onProgress?.({ stage: `Writing ${out}`, fraction: null });
  await saveModelDir(out, imported.artifacts, meta);
  await addImportedModel(o.home, { dir: out, importedAt: source.importedAt });
  return {
    dir: out,
    source: { ...source, opset: source.format === 'onnx' ? source.opset : null },
    inputShape: imported.inputShape,
    classNames,
    datasetId: data.info.id,
    datasetName: data.info.name,
    preprocess: describePreprocess(preprocess),
    layers: layerCounts(imported),
    notes: [...(imported.batchNorm === 'folded' ? [FOLDED_NOTE] : []), ...imported.warnings],
  };
}
