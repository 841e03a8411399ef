// Saving and loading models in the standard tfjs-layers format (model.json + weights.bin),
// so other tools (tfjs-converter, tf.loadLayersModel) can read them. Our own facts about
// the model (dataset, class names, preprocessing, training) go in userDefinedMetadata.
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { isUserError, UserError } from '../../common/errors.ts';
import { parseJsonWith, v } from '../../common/schema.ts';
import { writeOwnedFolder, type LegacyFiles } from '../fs/owned.ts';
import { insideFolder, readRegularInto, readRegularText, regularSize, TEXT_MAX } from '../fs/read.ts';
import { MODEL_MANIFEST, MODEL_META, PREPROCESS } from './schema.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
/** The writer of model folders, as their record of written files names it (fs/owned.ts). */
export const MODEL_KIND = 'model';

/** How pixels become model inputs: x = (pixel - mean) / std, for every channel. */
export type Preprocess = v.InferOutput<typeof PREPROCESS>;
export const DEFAULT_PREPROCESS: Preprocess = { mean: 127.5, std: 64 };

/** Our facts about a model, in userDefinedMetadata.decomposer (schema.ts). */
export type ModelMeta = v.InferOutput<typeof MODEL_META>;

/** Model artifacts in memory: what a worker needs to rebuild a model. */
export interface ModelArtifacts {
  topology: object;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
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
 * Saves a model folder: model.json, weights.bin and `extra` files (a checkpoint's optimizer
 * state). Only the files of the folder's last save are replaced: anything else in it (module
 * sets, a person's notes) stays. `legacy` says what an earlier version wrote there without a
 * record (default: model.json, when Decomposer wrote it, with weights.bin and the extra files).
 */
export async function saveModelDir(
  dir: string,
  a: ModelArtifacts,
  meta: ModelMeta,
  opts: { extra?: { name: string; data: string | Uint8Array }[]; legacy?: LegacyFiles } = {},
): Promise<void> {
  const extra = opts.extra ?? [];
  const json = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: 'decomposer',
    modelTopology: a.topology,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: a.weightSpecs }],
    userDefinedMetadata: { decomposer: meta },
  };
  await writeOwnedFolder(
    dir,
    MODEL_KIND,
    async (w) => {
      await w.put(WEIGHTS_BIN, new Uint8Array(a.weightData));
      for (const f of extra) await w.put(f.name, f.data);
      await w.put(MODEL_JSON, JSON.stringify(json));
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
  return new UserError(
    `${path.resolve(given)} is a file, not a model folder: a model is a folder holding model.json and weights.bin (the tfjs-layers format \`decomposer train\` writes).`,
    keras
      ? `Convert the Keras model into one with \`tensorflowjs_converter --input_format keras ${path.basename(given)} DIR\`, then give --model DIR.`
      : `Give the folder (train one with \`decomposer train\`); ${ext ? `${ext} files are` : 'this file is'} not read: a Keras model converts with \`tensorflowjs_converter --input_format keras MODEL.h5 DIR\`, and ONNX or PyTorch files cannot be imported yet.`,
    'not-a-folder',
  );
}

/**
 * Reads a model folder (or a model.json path) into artifacts and metadata, checking it:
 * model.json whole against its schema, every weights path inside the folder, and the weights
 * files' sizes against what the manifest describes, before one byte of weights is read.
 */
export async function readModelDir(
  dirOrJson: string,
): Promise<{ artifacts: ModelArtifacts; meta: ModelMeta | null; dir: string }> {
  const file = dirOrJson.endsWith('.json') ? dirOrJson : path.join(dirOrJson, MODEL_JSON);
  const dir = path.dirname(file);
  let text: string;
  try {
    text = await readRegularText(file, { maxBytes: TEXT_MAX });
  } catch (e) {
    if (isUserError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw notAModelFolder(dirOrJson);
    throw code === 'ENOENT'
      ? new UserError(
          `No model at ${file}.`,
          'Give the folder that holds model.json (train one with `decomposer train`).',
          'no-model',
        )
      : new UserError(`Cannot read ${file} (${code}).`, 'Check the file permissions.', 'no-model');
  }
  const json = parseJsonWith(
    MODEL_MANIFEST,
    text,
    file,
    'Restore the folder from where it was saved, or train the model again (a tfjs-layers model.json is needed).',
    'bad-model',
  );
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const expected = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  // Where each weights file is and how large, before anything is allocated or read.
  const files: { file: string; bytes: number }[] = [];
  for (const p of json.weightsManifest.flatMap((g) => g.paths)) {
    const wfile = await insideFolder(dir, p, file);
    try {
      files.push({ file: wfile, bytes: await regularSize(wfile) });
    } catch (e) {
      if (isUserError(e)) throw e;
      throw bad(wfile, 'is missing.', 'Copy the weights file next to model.json, or train the model again.');
    }
  }
  const total = files.reduce((s, f) => s + f.bytes, 0);
  if (total !== expected) {
    throw bad(
      dir,
      `weights hold ${total} bytes but model.json describes ${expected}.`,
      'The weights file is truncated or belongs to another model: restore it or train again.',
    );
  }
  const weightData = new Uint8Array(total);
  let off = 0;
  for (const f of files) {
    await readRegularInto(f.file, weightData.subarray(off, off + f.bytes));
    off += f.bytes;
  }
  return {
    artifacts: {
      topology: json.modelTopology,
      weightSpecs: specs,
      weightData: weightData.buffer,
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
