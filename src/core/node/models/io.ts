// Saving and loading models in the standard tfjs-layers format (model.json + weights.bin),
// so other tools (tfjs-converter, tf.loadLayersModel) can read them. Our own facts about
// the model (dataset, class names, preprocessing, training) go in userDefinedMetadata.
import * as tf from '@tensorflow/tfjs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { GreyInput } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { writeDirAtomic, writeFileSynced } from '../fs/atomic.ts';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** How pixels become model inputs: x = (pixel - mean) / std, for every channel. */
export interface Preprocess {
  mean: number;
  std: number;
}
export const DEFAULT_PREPROCESS: Preprocess = { mean: 127.5, std: 64 };

export interface ModelMeta {
  architecture: 'resnet';
  depth: number;
  batchNorm: boolean;
  inputSize: number;
  classes: number;
  classNames: string[];
  datasetId: string;
  preprocess: Preprocess;
  /** Trained on grey images (MNIST family): how they became its RGB input, for every later use. */
  grey?: GreyInput;
  training?: {
    epochs: number;
    bestEpoch: number;
    seed: number;
    valAccuracy: number;
    top1?: number;
    top5?: number;
    backend: string;
    seconds: number;
  };
}

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

export async function saveModelDir(dir: string, a: ModelArtifacts, meta: ModelMeta): Promise<void> {
  const json = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: 'decomposer',
    modelTopology: a.topology,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: a.weightSpecs }],
    userDefinedMetadata: { decomposer: meta },
  };
  await writeDirAtomic(dir, async (tmp) => {
    await writeFileSynced(path.join(tmp, WEIGHTS_BIN), new Uint8Array(a.weightData));
    await writeFileSynced(path.join(tmp, MODEL_JSON), JSON.stringify(json));
  });
}

interface ModelJson {
  modelTopology?: object;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: { decomposer?: ModelMeta };
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

/** Reads a model folder (or a model.json path) into artifacts and metadata, checking it. */
export async function readModelDir(
  dirOrJson: string,
): Promise<{ artifacts: ModelArtifacts; meta: ModelMeta | null; dir: string }> {
  const file = dirOrJson.endsWith('.json') ? dirOrJson : path.join(dirOrJson, MODEL_JSON);
  const dir = path.dirname(file);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
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
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch {
    throw bad(
      file,
      'is not valid JSON (the file may be half written).',
      'Restore it from a checkpoint or train the model again.',
    );
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw bad(
      file,
      'is not a tfjs-layers model (no modelTopology or weightsManifest).',
      'Save the model in the tfjs-layers format.',
    );
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const wfile = path.join(dir, p);
      try {
        parts.push(await fsp.readFile(wfile));
      } catch {
        throw bad(
          wfile,
          'is missing.',
          'Copy the weights file next to model.json, or train the model again.',
        );
      }
    }
  }
  const total = parts.reduce((s, p) => s + p.byteLength, 0);
  const expected = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (total !== expected) {
    throw bad(
      dir,
      `weights hold ${total} bytes but model.json describes ${expected}.`,
      'The weights file is truncated or belongs to another model: restore it or train again.',
    );
  }
  const weightData = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    weightData.set(p, off);
    off += p.byteLength;
  }
  return {
    artifacts: { topology: json.modelTopology, weightSpecs: specs, weightData: weightData.buffer },
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
