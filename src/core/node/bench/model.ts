// The model the engine figures measure: the ResNet the bench builds (--depth, --size, 10
// classes), or a model folder (--model DIR: imported, trained here, or a tfjs-layers folder
// made elsewhere) at its own input and classes. What every figure says of it, what the
// training figures train (its architecture as its baselines train it), whether PyTorch and
// the tfjs engines can run it, and why a figure cannot (a UserError: message and hint).
import path from 'node:path';
import { UserError } from '../../common/errors.ts';
import { checkTrainable } from '../engine/onnx-train/build.ts';
import { checkActivationBudget } from '../engine/onnx-train/engine.ts';
import { importedTrainingRefusal } from '../engine/training.ts';
import { describePreprocess } from '../graph/inputs.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import {
  DEFAULT_PREPROCESS,
  modelToArtifacts,
  preprocessingNote,
  readModelDir,
  tfjsRefusal,
  type ModelArtifacts,
  type ModelMeta,
  type Preprocess,
} from '../models/io.ts';
import { buildResNet } from '../models/resnet.ts';
import { freshModel } from '../train/architecture.ts';
import type { BenchSettings, Emit, ModelLabel } from './figure.ts';

/** A model folder as read before any figure (a folder that holds no model is refused there). */
export interface ModelFolder {
  dir: string;
  meta: ModelMeta | null;
  artifacts: ModelArtifacts;
  plan: ModelPlan;
}

export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const read = await readModelDir(dir);
  return { ...read, plan: planModel(read.artifacts) };
}

/** Where a folder's model came from, in a few words. */
function sourceOf(meta: ModelMeta | null): string {
  if (!meta) return 'a tfjs-layers model made elsewhere (no Decomposer metadata)';
  if (meta.architecture === 'resnet')
    return `ResNet-${meta.depth}${meta.batchNorm ? ' with batch norm' : ''} trained here${meta.datasetName ? ` on ${meta.datasetName}` : ''}`;
  const { file, producer } = meta.source;
  const opset = meta.source.format === 'onnx' ? `, opset ${meta.source.opset}` : '';
  return `${file} (${producer.name} ${producer.version}${opset})`;
}

/** What every figure says of the model. */
export function modelLabel(s: Pick<BenchSettings, 'depth' | 'size'>, folder: ModelFolder | null): ModelLabel {
  if (!folder) return { depth: s.depth, size: s.size };
  const [h, w, c] = folder.plan.input.shape;
  return { model: path.basename(folder.dir), source: sourceOf(folder.meta), input: `${h}x${w}x${c}` };
}

/**
 * The ResNet PyTorch builds beside the model (scripts/torch_rounds.py: BN-free, RGB), or why
 * it cannot: it builds that one architecture, never a graph read from a file.
 */
export function torchModel(
  s: Pick<BenchSettings, 'depth' | 'size'>,
  folder: ModelFolder | null,
): { depth: number; size: number; classes: number } | string {
  if (!folder) return { depth: s.depth, size: s.size, classes: 10 };
  const meta = folder.meta;
  const [size, , channels] = folder.plan.input.shape;
  if (meta?.architecture === 'resnet' && !meta.batchNorm && channels === 3)
    return { depth: meta.depth, size: size!, classes: folder.plan.classes };
  const what =
    meta?.architecture === 'imported'
      ? 'an imported graph'
      : meta?.architecture === 'resnet'
        ? 'a ResNet with batch norm'
        : 'a tfjs-layers model made elsewhere';
  return `PyTorch's side (scripts/torch_rounds.py) builds only the BN-free ResNets the bench generates and cannot run ${what}: these figures are this engine's alone, without torch fields`;
}

export interface BenchModel {
  /** The model folder (null: the ResNet the bench builds). */
  folder: ModelFolder | null;
  label: ModelLabel;
  /** The model as it is: what the inference and decomposition figures run. */
  artifacts: ModelArtifacts;
  preprocess: Preprocess;
  /** Input side (images are stored RGB; a grey model reads their luma) and classes. */
  size: number;
  classes: number;
  /** What the training figures train: the architecture as its baselines train it. */
  training: ModelArtifacts;
  /** Why the onnxruntime training graphs cannot train it (null: they can). */
  onnxTraining: UserError | null;
  /** Why the tfjs engines cannot run it (null: they can). */
  tfjs: UserError | null;
  /** What to tell of it first (a folder's `model` figure). */
  notes: string[];
}

/** The tfjs engines' refusal of a stored plan, with what it means for the bench. */
function benchTfjsRefusal(): UserError {
  const e = tfjsRefusal();
  return new UserError(
    e.message,
    'Its onnxruntime figures measure it; --backends onnxruntime leaves these lines out.',
    e.code,
  );
}

const errorOf = (check: () => void): UserError | null => {
  try {
    check();
    return null;
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
};

/**
 * The engine figures' model. A folder's training figures train its architecture as its
 * baselines do (an imported one from fresh weights, a ResNet of ours a fresh ResNet of its
 * depth); a tfjs-layers folder made elsewhere has no baseline, and trains its own weights.
 * Builds ResNets with tfjs: its backend must be started.
 */
export async function benchModel(
  s: Pick<BenchSettings, 'depth' | 'size'>,
  folder: ModelFolder | null,
): Promise<BenchModel> {
  const label = modelLabel(s, folder);
  if (!folder) {
    const model = buildResNet({ depth: s.depth, inputSize: s.size, classes: 10, seed: 1 });
    const artifacts = await modelToArtifacts(model);
    model.dispose();
    return {
      folder,
      label,
      artifacts,
      preprocess: DEFAULT_PREPROCESS,
      size: s.size,
      classes: 10,
      training: artifacts,
      onnxTraining: null,
      tfjs: null,
      notes: [],
    };
  }
  const { meta, artifacts, plan, dir } = folder;
  const size = plan.input.shape[0]!;
  const notes = [preprocessingNote(meta, dir)].filter((n) => n !== null);
  let training = artifacts;
  if (meta) {
    const imported =
      meta.architecture === 'imported' && artifacts.kind === 'plan' ? { dir, artifacts, meta } : undefined;
    // A ResNet's depth and batch norm; an imported architecture is its plan.
    const cfg = meta.architecture === 'resnet' ? meta : { depth: 0, batchNorm: false };
    const fresh = await freshModel(
      imported,
      { depth: cfg.depth, batchNorm: cfg.batchNorm, seed: 1 },
      size,
      plan.classes,
    );
    training = fresh.artifacts;
    if (fresh.note) notes.push(fresh.note);
  }
  const trainingPlan = planModel(training);
  // As training refuses them: an imported architecture trains on onnxruntime or not at all.
  const untrainable = errorOf(() => checkTrainable(trainingPlan));
  const onnxTraining =
    untrainable && artifacts.kind === 'plan'
      ? importedTrainingRefusal(untrainable)
      : (untrainable ?? errorOf(() => checkActivationBudget(trainingPlan)));
  return {
    folder,
    label,
    artifacts,
    preprocess: meta?.preprocess ?? DEFAULT_PREPROCESS,
    size,
    classes: plan.classes,
    training,
    onnxTraining,
    tfjs: artifacts.kind === 'plan' ? benchTfjsRefusal() : null,
    notes,
  };
}

/** A folder's first figure: the model, its classes and preprocessing, and what its training figures train. */
export function modelFigure(m: BenchModel, emit: Emit): void {
  if (!m.folder) return;
  const meta = m.folder.meta;
  emit({
    figure: 'model',
    ...m.label,
    dir: m.folder.dir,
    classes: m.classes,
    preprocess: describePreprocess(m.preprocess),
    training_weights: meta ? 'fresh, as its baselines train it' : 'its own (no baseline: made elsewhere)',
    ...(m.notes.length ? { notes: m.notes.join(' ') } : {}),
  });
}
