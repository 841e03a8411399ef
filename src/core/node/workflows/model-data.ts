// Which dataset a trained model is judged, decomposed and repaired on, written once for the
// CLI and the app: the dataset the user names, else the one the model's folder records (the
// embedded datasets exactly, by seed and sizes; others through the dataset registry), and a
// clear refusal when its classes or image size do not fit the model.
import type { DatasetSpec, LoadedDataset, Progress } from '../../common/dataset.ts';
import { isUserError, UserError } from '../../common/errors.ts';
import { loadDataset } from '../data/index.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import { resolveDataset } from '../data/catalogue.ts';
import { checkModelFitsData, checkModelMeta, modelDataWarnings } from '../models/fit.ts';
import { readModelDir, type ModelMeta } from '../models/io.ts';
import { cacheDir } from '../paths.ts';

const SYNTHETIC_ID = /^synthetic-(shapes|textures)-(32|64)-s(\d+)-(\d+)x(\d+)$/;

/** The id of a dataset with deliberately corrupted training labels (the wizard's faulty demo). */
const FAULT_SUFFIX = /-fault-\d+to\d+-\d+$/;

/**
 * The exact embedded dataset an id names (its seed and sizes), or null for other ids. A faulty
 * demo model was trained on corrupted labels on purpose; it is judged, decomposed and repaired
 * with the true labels of the dataset the corruption came from.
 */
export function syntheticSpecFromId(id: string): DatasetSpec | null {
  const m = SYNTHETIC_ID.exec(id.replace(FAULT_SUFFIX, ''));
  if (!m) return null;
  return {
    kind: 'synthetic',
    name: m[1] as 'shapes' | 'textures',
    size: Number(m[2]) as 32 | 64,
    seed: Number(m[3]),
    trainPerClass: Number(m[4]),
    testPerClass: Number(m[5]),
  };
}

export interface LoadOptions {
  home: string;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

/**
 * The spec of a dataset id: the embedded ones at any size they were generated with, or one
 * found or registered here; an id nothing here knows is refused ('no-dataset').
 */
export async function modelDatasetSpec(home: string, id: string): Promise<DatasetSpec> {
  return syntheticSpecFromId(id) ?? resolveDataset(home, id);
}

/** A dataset by id (modelDatasetSpec), loaded. */
export async function loadModelDataset(
  home: string,
  id: string,
  signal?: AbortSignal,
  onProgress?: (p: Progress) => void,
): Promise<LoadedDataset> {
  return loadDataset(await modelDatasetSpec(home, id), { cacheDir: cacheDir(home), signal, onProgress });
}

/**
 * Refuses a dataset the model does not take (image size, channels, classes), or a model
 * folder whose metadata disagrees with its layers, saying what to change (models/fit.ts);
 * returns the warnings for one it takes but did not learn (other class names, another kind).
 */
export function checkModelData(data: LoadedDataset, model: ModelForData): string[] {
  checkModelFitsData(model, data.info);
  return modelDataWarnings(model, data.info);
}

export interface ModelForData {
  dir: string;
  meta: { datasetId?: string; inputSize?: number; classes?: number; classNames?: string[] } | null;
  plan: ModelPlan;
}

/**
 * The dataset a model is judged on: `given` (a spec the user named, or a dataset id) or else
 * the one its folder records, checked against the model.
 */
export async function datasetForModel(
  model: ModelForData,
  given: DatasetSpec | string | null | undefined,
  o: LoadOptions,
): Promise<LoadedDataset> {
  checkModelMeta(model); // a damaged folder is named before any dataset is looked for
  let data: LoadedDataset;
  if (given && typeof given === 'object')
    data = await loadDataset(given, {
      cacheDir: cacheDir(o.home),
      signal: o.signal,
      onProgress: o.onProgress,
    });
  else {
    const id = given ?? model.meta?.datasetId;
    if (!id)
      throw new UserError(
        `The model in ${model.dir} does not say which dataset it was trained on.`,
        'Name the dataset it was trained on.',
        'no-dataset',
      );
    try {
      data = await loadModelDataset(o.home, id, o.signal, o.onProgress);
    } catch (e) {
      // A recorded id nothing here knows (moved, never imported): ask for the dataset itself.
      if (given || !isUserError(e) || e.code !== 'no-dataset') throw e;
      throw new UserError(
        `The model in ${model.dir} was trained on "${id}", which is not known here.`,
        'Name the dataset it was trained on.',
        'no-dataset',
      );
    }
  }
  const warnings = checkModelData(data, model);
  if (warnings.length) (data.info.warnings ??= []).push(...warnings);
  return data;
}

/** Reads a model folder and loads its dataset (the one it was trained on unless given). */
export async function openModelData(
  modelDir: string,
  datasetId: string | null | undefined,
  o: LoadOptions,
): Promise<{ dir: string; data: LoadedDataset; meta: ModelMeta | null; plan: ModelPlan }> {
  const read = await readModelDir(modelDir);
  const plan = planModel(read.artifacts);
  const data = await datasetForModel({ dir: modelDir, meta: read.meta, plan }, datasetId, o);
  return { dir: read.dir, data, meta: read.meta, plan };
}
