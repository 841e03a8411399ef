// Saving and loading model folders. Our own models are in the standard tfjs-layers format
// (model.json + weights.bin), so other tools (tfjs-converter, tf.loadLayersModel) can read
// them, with our facts about the model (dataset, class names, preprocessing, training) in
// userDefinedMetadata. An imported model's folder holds its plan instead (plan.json +
// weights.bin, metadata in plan.json): the layers as the plan (graph/plan.ts) reads them.
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { isUserError, UserError } from '../../common/errors.ts';
import { parseJsonWith, v } from '../../common/schema.ts';
import { writeOwnedFolder, type LegacyFiles } from '../fs/owned.ts';
import { insideFolder, readRegularInto, readRegularText, regularSize, TEXT_MAX } from '../fs/read.ts';
import { MODEL_MANIFEST, MODEL_META, PLAN_FILE, PREPROCESS, type PlanSpec } from './schema.ts';

export const MODEL_JSON = 'model.json';
export const PLAN_JSON = 'plan.json';
export const WEIGHTS_BIN = 'weights.bin';
/** The writer of model folders, as their record of written files names it (fs/owned.ts). */
export const MODEL_KIND = 'model';

/** How pixels become model inputs: x = (p - mean[c]) / std[c] (schema.ts). */
export type Preprocess = v.InferOutput<typeof PREPROCESS>;
/** Our own models' preprocessing: one mean and std for every channel, on 0..255 pixels. */
export const DEFAULT_PREPROCESS: Preprocess & { mean: number; std: number } = { mean: 127.5, std: 64 };

/** Our facts about a model, in userDefinedMetadata.decomposer (schema.ts). */
export type ModelMeta = v.InferOutput<typeof MODEL_META>;

/** A tfjs-layers model in memory: what a worker needs to rebuild a model. */
export interface LayersArtifacts {
  kind?: 'layers';
  topology: object;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** A stored plan in memory (an imported model): its layers, and weights named `<layer>/<kind>`. */
export interface PlanArtifacts {
  kind: 'plan';
  plan: PlanSpec;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

export type ModelArtifacts = LayersArtifacts | PlanArtifacts;

/** What the tfjs engines say of a model stored as a plan. */
export function tfjsRefusal(): UserError {
  return new UserError(
    'Imported models run on onnxruntime: the tfjs engines run only models in the tfjs-layers format.',
    'Leave the engine on auto (or choose onnxruntime) for this model: --backend onnxruntime, --inference onnxruntime.',
    'tfjs-plan',
  );
}

export async function modelToArtifacts(model: tf.LayersModel): Promise<ModelArtifacts> {
  let out: ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = a.weightData;
      const buf = data instanceof ArrayBuffer ? data : tf.io.concatenateArrayBuffers(data as ArrayBuffer[]);
      out = { topology: a.modelTopology as object, weightSpecs: a.weightSpecs ?? [], weightData: buf };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return out!;
}

export async function artifactsToModel(a: ModelArtifacts): Promise<tf.LayersModel> {
  if (a.kind === 'plan') throw tfjsRefusal();
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: a.topology, weightSpecs: a.weightSpecs, weightData: a.weightData }),
  );
}

/** A model.json Decomposer wrote says so. */
const WRITTEN_BY_US = v.object({ convertedBy: v.literal('decomposer') });

/**
 * What an earlier version wrote in a model folder without a record: model.json (when it says
 * Decomposer wrote it), weights.bin, and the `extra` files written beside them.
 */
function legacyModelFiles(extra: string[]): LegacyFiles {
  return async (dir) => {
    const text = await readRegularText(path.join(dir, MODEL_JSON), { maxBytes: TEXT_MAX }).catch(() => null);
    if (text === null) return null;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return null; // not a model.json we wrote
    }
    return v.is(WRITTEN_BY_US, json) ? [MODEL_JSON, WEIGHTS_BIN, ...extra] : null;
  };
}

/**
 * Saves a model folder: model.json (a tfjs-layers model) or plan.json (a stored plan),
 * weights.bin and `extra` files (a checkpoint's optimizer state). Only the files of the
 * folder's last save are replaced: anything else in it (module sets, a person's notes) stays.
 * `legacy` says what an earlier version wrote there without a record (default: model.json,
 * when Decomposer wrote it, with weights.bin and the extra files).
 */
export async function saveModelDir(
  dir: string,
  a: ModelArtifacts,
  meta: ModelMeta,
  opts: { extra?: { name: string; data: string | Uint8Array }[]; legacy?: LegacyFiles } = {},
): Promise<void> {
  const extra = opts.extra ?? [];
  const weightsManifest = [{ paths: [`./${WEIGHTS_BIN}`], weights: a.weightSpecs }];
  const [file, json] =
    a.kind === 'plan'
      ? [PLAN_JSON, { format: 'decomposer-plan', version: 1, plan: a.plan, weightsManifest, metadata: meta }]
      : [
          MODEL_JSON,
          {
            format: 'layers-model',
            generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
            convertedBy: 'decomposer',
            modelTopology: a.topology,
            weightsManifest,
            userDefinedMetadata: { decomposer: meta },
          },
        ];
  await writeOwnedFolder(
    dir,
    MODEL_KIND,
    async (w) => {
      await w.put(WEIGHTS_BIN, new Uint8Array(a.weightData));
      for (const f of extra) await w.put(f.name, f.data);
      await w.put(file, JSON.stringify(json));
    },
    { legacy: opts.legacy ?? legacyModelFiles(extra.map((f) => f.name)) },
  );
}

function bad(file: string, what: string, hint: string): UserError {
  return new UserError(`${file}: ${what}`, hint, 'bad-model');
}

/** A file given where a model folder is read: what a model folder is, and how to get one. */
function notAModelFolder(given: string): UserError {
  const ext = path.extname(given).toLowerCase();
  const keras = ext === '.h5' || ext === '.keras';
  const onnx = ext === '.onnx';
  return new UserError(
    `${path.resolve(given)} is a file, not a model folder: a model is a folder holding model.json and weights.bin (the tfjs-layers format \`decomposer train\` writes) or an imported model's plan.json and weights.bin.`,
    keras
      ? `Convert the Keras model into one with \`tensorflowjs_converter --input_format keras ${path.basename(given)} DIR\`, then give --model DIR (or export it to ONNX and import that).`
      : onnx
        ? `Import it first: \`decomposer import ${path.basename(given)} --out DIR --dataset NAME\`, then give --model DIR.`
        : `Give the folder (train one with \`decomposer train\`); ${ext ? `${ext} files are` : 'this file is'} not read: an ONNX file imports with \`decomposer import FILE.onnx --out DIR --dataset NAME\` (PyTorch and Keras models export to ONNX), and a Keras model also converts with \`tensorflowjs_converter --input_format keras MODEL.h5 DIR\`.`,
    'not-a-folder',
  );
}

/** The folder's model file: model.json, else plan.json (a model.json path names itself). */
async function modelFile(dirOrJson: string): Promise<{ file: string; text: string }> {
  const candidates = dirOrJson.endsWith('.json')
    ? [dirOrJson]
    : [path.join(dirOrJson, MODEL_JSON), path.join(dirOrJson, PLAN_JSON)];
  for (const file of candidates) {
    try {
      return { file, text: await readRegularText(file, { maxBytes: TEXT_MAX }) };
    } catch (e) {
      if (isUserError(e)) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw notAModelFolder(dirOrJson);
      if (code === 'ENOENT') continue;
      throw new UserError(`Cannot read ${file} (${code}).`, 'Check the file permissions.', 'no-model');
    }
  }
  throw new UserError(
    `No model at ${candidates[0]}.`,
    "Give the folder that holds model.json (train one with `decomposer train`), or an imported model's folder (plan.json).",
    'no-model',
  );
}

type WeightsManifest = v.InferOutput<typeof MODEL_MANIFEST>['weightsManifest'];

/**
 * The weights a manifest describes, read after checking every path is inside the folder and
 * the files' sizes add up to what the manifest describes, before one byte is allocated or read.
 */
async function readWeights(dir: string, file: string, manifest: WeightsManifest): Promise<ArrayBuffer> {
  const specs = manifest.flatMap((g) => g.weights);
  const expected = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  const files: { file: string; bytes: number }[] = [];
  for (const p of manifest.flatMap((g) => g.paths)) {
    const wfile = await insideFolder(dir, p, file);
    try {
      files.push({ file: wfile, bytes: await regularSize(wfile) });
    } catch (e) {
      if (isUserError(e)) throw e;
      throw bad(
        wfile,
        'is missing.',
        `Copy the weights file next to ${path.basename(file)}, or train (or import) the model again.`,
      );
    }
  }
  const total = files.reduce((s, f) => s + f.bytes, 0);
  if (total !== expected) {
    throw bad(
      dir,
      `weights hold ${total} bytes but ${path.basename(file)} describes ${expected}.`,
      'The weights file is truncated or belongs to another model: restore it, or train (or import) again.',
    );
  }
  const weightData = new Uint8Array(total);
  let off = 0;
  for (const f of files) {
    await readRegularInto(f.file, weightData.subarray(off, off + f.bytes));
    off += f.bytes;
  }
  return weightData.buffer;
}

/**
 * Reads a model folder (or a model.json path) into artifacts and metadata, checking it:
 * model.json (or plan.json) whole against its schema, every weights path inside the folder,
 * and the weights files' sizes against what the manifest describes, before one byte of
 * weights is read.
 */
export async function readModelDir(
  dirOrJson: string,
): Promise<{ artifacts: ModelArtifacts; meta: ModelMeta | null; dir: string }> {
  const { file, text } = await modelFile(dirOrJson);
  const dir = path.dirname(file);
  if (path.basename(file) === PLAN_JSON) {
    const json = parseJsonWith(
      PLAN_FILE,
      text,
      file,
      'Restore the folder from where it was saved, or import the model again.',
      'bad-model',
    );
    const weightData = await readWeights(dir, file, json.weightsManifest);
    const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
    return {
      artifacts: { kind: 'plan', plan: json.plan, weightSpecs, weightData },
      meta: json.metadata ?? null,
      dir,
    };
  }
  const json = parseJsonWith(
    MODEL_MANIFEST,
    text,
    file,
    'Restore the folder from where it was saved, or train the model again (a tfjs-layers model.json is needed).',
    'bad-model',
  );
  const weightData = await readWeights(dir, file, json.weightsManifest);
  return {
    artifacts: {
      topology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData,
    },
    meta: json.userDefinedMetadata?.decomposer ?? null,
    dir,
  };
}

/** Loads a model and checks it takes the given input size and class count. */
export async function loadModelDir(
  dirOrJson: string,
  expect?: { inputSize?: number; classes?: number },
): Promise<{ model: tf.LayersModel; meta: ModelMeta | null; artifacts: ModelArtifacts; dir: string }> {
  const { artifacts, meta, dir } = await readModelDir(dirOrJson);
  let model: tf.LayersModel;
  try {
    model = await artifactsToModel(artifacts);
  } catch (e) {
    throw bad(
      path.join(dir, MODEL_JSON),
      `cannot be built: ${(e as Error).message.split('\n')[0]}`,
      'Check that it is a tfjs-layers model of supported layers.',
    );
  }
  const shape = model.inputs[0]!.shape;
  const outUnits = model.outputs[0]!.shape[model.outputs[0]!.shape.length - 1];
  if (
    expect?.inputSize &&
    (shape[1] !== expect.inputSize || shape[2] !== expect.inputSize || shape[3] !== 3)
  ) {
    model.dispose();
    throw bad(
      path.join(dir, MODEL_JSON),
      `takes inputs of shape [${shape.slice(1).join(', ')}], but the data is ${expect.inputSize}x${expect.inputSize}x3.`,
      "Use a model trained for this input size, or a dataset of the model's size.",
    );
  }
  if (expect?.classes && outUnits !== expect.classes) {
    model.dispose();
    throw bad(
      path.join(dir, MODEL_JSON),
      `has ${outUnits} output classes, but the data has ${expect.classes}.`,
      'Use a model trained on this dataset.',
    );
  }
  return { model, meta, artifacts, dir };
}

/**
 * What to say of a model folder that records no preprocessing (one made elsewhere, e.g. by
 * tensorflowjs_converter): Decomposer's own normalisation is applied to it, which is wrong for
 * a model trained on x / 255 or ImageNet's mean and std. Null where the folder records it.
 */
export function preprocessingNote(meta: ModelMeta | null, dir: string): string | null {
  if (meta) return null;
  const { mean, std } = DEFAULT_PREPROCESS;
  return `${dir} records no preprocessing (it was not made by Decomposer): its inputs are made as Decomposer's own models' ((pixel - ${mean}) / ${std}). If it was trained on other inputs, import it to record them: decomposer import ${dir} --out NEW_DIR --dataset NAME --mean M --std S (after scaling pixels to 0..1; x / 255 is --mean 0 --std 1).`;
}

/** A model's architecture in a few words, for labels: "ResNet-20", "imported model (resnet18.onnx)". */
export function architectureLabel(meta: ModelMeta | null): string {
  if (meta?.architecture === 'imported') return `imported model (${meta.source.file})`;
  return `ResNet-${meta?.depth ?? 20}`;
}

/** What a model's train-from-scratch baselines train: a ResNet, or an imported model's own architecture. */
export type BaselineArchitecture =
  { kind: 'resnet'; depth: number; batchNorm: boolean } | { kind: 'imported'; dir: string; label: string };

/**
 * The architecture a model's train-from-scratch baselines train: the one it is. A ResNet of
 * ours (its depth and batch norm; ResNet-20 where a folder records none), or an imported
 * model's own architecture from fresh weights (its folder): never another one, which would
 * make every comparison meaningless.
 */
export function baselineArchitecture(meta: ModelMeta | null, dir: string): BaselineArchitecture {
  if (meta?.architecture === 'imported')
    return { kind: 'imported', dir: path.resolve(dir), label: architectureLabel(meta) };
  return { kind: 'resnet', depth: meta?.depth ?? 20, batchNorm: meta?.batchNorm ?? false };
}

/** A baseline architecture in a few words, for what a training says it trains. */
export function baselineLabel(a: BaselineArchitecture): string {
  return a.kind === 'imported' ? `the architecture of the ${a.label}` : `ResNet-${a.depth}`;
}
