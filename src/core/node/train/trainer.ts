// Training baselines: seeded shuffling, pad-and-crop + flip augmentation, a validation
// split, a checkpoint every epoch, the best-validation checkpoint and its epoch, resume
// after a crash, cancel at any time keeping what finished, top-1/top-5 on a test set.
//
// Run folder layout (every write atomic, so a killed run leaves a consistent folder):
//   config.json                what was asked (a resume must ask the same)
//   checkpoints/epoch-NNN/     model.json + weights.bin (tfjs-layers) + optimizer.bin + state.json
//   latest.json, best.json     pointers to the newest and the best-validation checkpoint
//   model/                     the best model, written when training ends (or is cancelled)
import path from 'node:path';
import type { BackendName } from '../../common/api.ts';
import type { ImageSet, LoadedDataset } from '../../common/dataset.ts';
import type { BatchProgress } from '../../common/jobs.ts';
import { Rng } from '../data/random.ts';
import { augmentFor, subset, validationSplit } from './batches.ts';
import { describeBackend, initBackend } from '../graph/backend.ts';
import { createTrainingEngine } from '../engine/training.ts';
import type { TrainingEngine } from '../engine/training-engine.ts';
import { lockFolder } from '../fs/lock.ts';
import { findResumePoint, readPointer, type CheckpointState, type ResumeReport } from './checkpoints.ts';
import { checkRunFolder, claimRunConfig, saveCheckpoint } from './run-folder.ts';
import type { EpochRecord } from './run-files.ts';
import {
  DEFAULT_PREPROCESS,
  readModelDir,
  saveModelDir,
  type ModelArtifacts,
  type ModelMeta,
  type Preprocess,
} from '../models/io.ts';
import {
  architectureKey,
  architectureMeta,
  freshModel,
  preprocessOf,
  type ImportedArchitecture,
} from './architecture.ts';
import { openInference } from '../inference/index.ts';
import { DEFAULT_ADAM, EngineAdam } from './adam.ts';
import { topKAccuracy } from './metrics.ts';

export interface TrainConfig {
  depth: number;
  batchNorm: boolean;
  epochs: number;
  batchSize: number;
  seed: number;
  augment: boolean;
  valFraction: number;
  learningRate: number;
  /**
   * Early stopping: stop once validation accuracy has not improved for this many epochs
   * (`epochs` is then the maximum). 0 trains every epoch.
   */
  patience: number;
}

export const DEFAULT_TRAIN: TrainConfig = {
  depth: 20,
  batchNorm: false,
  epochs: 10,
  batchSize: 64,
  seed: 1,
  augment: true,
  valFraction: 0.1,
  learningRate: 1e-3,
  patience: 0,
};

/** The engine a training ran on, as runs and comparisons name it: onnxruntime, or tfjs-<backend>. */
export function trainingEngineName(backend: string): string {
  return backend === 'onnxruntime' ? 'onnxruntime' : `tfjs-${backend}`;
}

/**
 * Whether validation accuracy has left the chance-level plateau that these nets (BN-free,
 * with zero-initialised residual branches) sit on for their first epochs: at least a tenth of
 * the way from chance to perfect. Until then no epoch counts against the patience.
 */
export function leftPlateau(valAccuracy: number, classes: number): boolean {
  const chance = 1 / Math.max(1, classes);
  return valAccuracy >= chance + 0.1 * (1 - chance);
}

/**
 * Whether a training had stopped improving when it ended: it left the plateau, and its
 * validation accuracy did not improve over its last `max(1, patience)` epochs. A training
 * still improving at its last epoch, stopped by the maximum before its patience ran out, or
 * never off the plateau is not a converged baseline.
 */
export function converged(
  h: { epochsDone: number; bestEpoch: number; bestVal: number; classes: number },
  patience: number,
): boolean {
  return (
    h.epochsDone > 0 &&
    leftPlateau(h.bestVal, h.classes) &&
    h.epochsDone - h.bestEpoch >= Math.max(1, patience)
  );
}

export type TrainEvent =
  | {
      type: 'start';
      epochs: number;
      /** Stops once validation accuracy has not improved for this many epochs (0: never): `epochs` is then a maximum. */
      patience: number;
      startEpoch: number;
      trainImages: number;
      valImages: number;
      backend: string;
      /** The active backend and why faster ones are not active, in one line. */
      backendDetail: string;
      workers: number;
      /** Which checkpoint a resume used and which damaged ones it skipped. */
      resume: ResumeReport;
    }
  | ({ type: 'batch' } & BatchProgress)
  | ({ type: 'epoch'; epochs: number; best: boolean; etaSeconds: number } & EpochRecord)
  | { type: 'evaluate'; stage: 'test' };

export interface TrainResult {
  status: 'finished' | 'cancelled';
  epochsDone: number;
  bestEpoch: number;
  valAccuracy: number;
  top1: number;
  top5: number;
  seconds: number;
  modelDir: string | null;
  backend: string;
  /** The active backend and why faster ones are not active. */
  backendDetail: string;
  /** The engine that ran the test-set evaluation: onnxruntime, or tfjs-<backend>. */
  evalEngine: string;
  history: EpochRecord[];
  resumedFrom: number;
  /** Stopped by its patience before the maximum number of epochs. */
  stoppedEarly: boolean;
  /** See `converged`: false while it was still improving when it stopped. */
  converged: boolean;
  /** Which checkpoint a resume used and which damaged ones it skipped. */
  resume: ResumeReport;
}

export interface TrainOptions {
  runDir: string;
  data: LoadedDataset;
  config?: Partial<TrainConfig>;
  workers?: number;
  backend?: BackendName | null;
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
  /** Reuse an existing training engine (the caller closes it). */
  pool?: TrainingEngine;
  /** Train this imported model's architecture (fresh weights, its preprocessing), not a ResNet. */
  architecture?: ImportedArchitecture;
}

/**
 * Top-1/top-5 of a model's weights on a set. Forward passes over many images go through
 * onnxruntime: the training engine's open eval session when it trains on onnxruntime, else
 * the inference engine (onnxruntime-node) when it loads; otherwise through the tfjs pool. The
 * engine must hold exactly these weights. Returns which engine ran.
 */
export async function evaluate(
  pool: TrainingEngine,
  artifacts: ModelArtifacts,
  set: ImageSet,
  classes: number,
  preprocess: Preprocess = DEFAULT_PREPROCESS,
): Promise<{ top1: number; top5: number; probs: Float32Array; engine: string }> {
  if (pool.inference === 'onnxruntime') {
    const probs = await pool.predict(set.images, set.count, set.size * set.size * 3, classes);
    return {
      top1: topKAccuracy(probs, set.labels, classes, 1),
      top5: topKAccuracy(probs, set.labels, classes, Math.min(5, classes)),
      probs,
      engine: 'onnxruntime',
    };
  }
  let probs: Float32Array | null = null;
  let engine = `tfjs-${pool.report?.active ?? 'unknown'}`;
  const inference = await openInference(artifacts, { preprocess });
  try {
    if (inference.name === 'onnxruntime') {
      probs = await inference.predict(set.images, set.count);
      engine = 'onnxruntime';
    }
  } finally {
    await inference.close();
  }
  probs ??= await pool.predict(set.images, set.count, set.size * set.size * 3, classes);
  return {
    top1: topKAccuracy(probs, set.labels, classes, 1),
    top5: topKAccuracy(probs, set.labels, classes, Math.min(5, classes)),
    probs,
    engine,
  };
}

/**
 * Trains in `opts.runDir`, holding the folder's lock throughout: a second process training
 * in the same folder is refused with the running pid (they would overwrite each other's
 * checkpoints and model). A folder that is neither new, empty nor a run folder is refused
 * before anything is written (run-folder.ts).
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  await checkRunFolder(opts.runDir);
  const lock = await lockFolder(opts.runDir, 'training');
  try {
    return await trainLocked(opts);
  } finally {
    await lock.release();
  }
}

/** What one training holds from its start to its end. */
interface Training {
  opts: TrainOptions;
  cfg: TrainConfig;
  data: LoadedDataset;
  runDir: string;
  pool: TrainingEngine;
  classes: number;
  /** Input side, and values per image. */
  size: number;
  per: number;
  /** The model the weights belong to (its topology and weight specs). */
  artifacts: ModelArtifacts;
  optimizer: EngineAdam;
  trainSet: ImageSet;
  valSet: ImageSet;
  /** The engine that trains, as runs name it. */
  backend: string;
  resume: ResumeReport;
  resumedFrom: number;
  /** The epochs finished so far and the best of them. */
  state: CheckpointState;
  /** One batch's images and labels, reused. */
  images: Uint8Array;
  labels: Int32Array;
}

async function trainLocked(opts: TrainOptions): Promise<TrainResult> {
  const cfg: TrainConfig = { ...DEFAULT_TRAIN, ...opts.config };
  const { data, runDir } = opts;
  const started = Date.now();
  // The number of epochs and the patience say only when to stop: a run resumes with others.
  await claimRunConfig(runDir, {
    datasetId: data.info.id,
    classes: data.info.classNames.length,
    size: data.info.imageSize,
    ...cfg,
    architecture: architectureKey(opts.architecture),
    epochs: undefined,
    patience: undefined,
  });
  const ownPool = !opts.pool;
  const pool = opts.pool ?? createTrainingEngine({ workers: opts.workers, backend: opts.backend });
  try {
    const t = await prepare(opts, cfg, pool);
    let cancelled = false;
    for (let epoch = t.state.epoch + 1; epoch <= cfg.epochs && !patienceRanOut(t); epoch++) {
      cancelled = !(await trainEpoch(t, epoch));
      if (cancelled) break;
    }
    return await finish(t, cancelled, started);
  } finally {
    if (ownPool) await pool.close();
  }
}

/**
 * Loads the engine with the newest intact checkpoint of the run folder and its optimizer
 * state, or with a fresh, seeded model; splits off the validation set; says how it starts.
 */
async function prepare(opts: TrainOptions, cfg: TrainConfig, pool: TrainingEngine): Promise<Training> {
  const { data, runDir } = opts;
  const classes = data.info.classNames.length;
  const size = data.info.imageSize;
  const resume = await findResumePoint(runDir);
  let state: CheckpointState = { epoch: 0, history: [], bestEpoch: 0, bestVal: -1, seconds: 0 };
  let artifacts: ModelArtifacts;
  let optimizerBytes: Uint8Array | null = null;
  if (resume.checkpoint) {
    ({ artifacts, optimizer: optimizerBytes, state } = resume.checkpoint);
  } else {
    await initBackend(opts.backend ?? null);
    ({ artifacts } = await freshModel(opts.architecture, cfg, size, classes));
  }
  const layout = await pool.load(artifacts, preprocessOf(opts.architecture));
  const optimizer = new EngineAdam(pool, layout, { ...DEFAULT_ADAM, learningRate: cfg.learningRate });
  if (optimizerBytes) optimizer.adam.restore(optimizerBytes);

  const split = validationSplit(data.train.count, cfg.valFraction, cfg.seed);
  const t: Training = {
    opts,
    cfg,
    data,
    runDir,
    pool,
    classes,
    size,
    per: size * size * 3,
    artifacts,
    optimizer,
    trainSet: subset(data.train, split.train),
    valSet: subset(data.train, split.val),
    backend: pool.report?.active ?? 'unknown',
    resume: resume.report,
    resumedFrom: state.epoch,
    state,
    images: new Uint8Array(cfg.batchSize * size * size * 3),
    labels: new Int32Array(cfg.batchSize),
  };
  opts.onEvent?.({
    type: 'start',
    epochs: cfg.epochs,
    patience: cfg.patience,
    startEpoch: state.epoch,
    trainImages: t.trainSet.count,
    valImages: t.valSet.count,
    backend: t.backend,
    backendDetail: backendDetail(t),
    workers: pool.size,
    resume: resume.report,
  });
  return t;
}

/** The active backend and why faster ones are not active, in one line. */
const backendDetail = (t: Training) => (t.pool.report ? describeBackend(t.pool.report) : t.backend);

/** Whether validation accuracy has not improved for `patience` epochs since it left the plateau. */
function patienceRanOut({ cfg, state, classes }: Training): boolean {
  return (
    cfg.patience > 0 && leftPlateau(state.bestVal, classes) && state.epoch - state.bestEpoch >= cfg.patience
  );
}

/** The metadata a checkpoint or the final model is saved with. */
function modelMeta(t: Training, epochs: number): ModelMeta {
  const { cfg, data, size, classes, state, backend } = t;
  return {
    ...architectureMeta(t.opts.architecture, cfg),
    inputSize: size,
    classes,
    classNames: data.info.classNames,
    datasetId: data.info.id,
    datasetName: data.info.name,
    preprocess: preprocessOf(t.opts.architecture),
    ...(data.info.grey ? { grey: data.info.grey } : {}),
    training: {
      epochs,
      bestEpoch: state.bestEpoch,
      seed: cfg.seed,
      valAccuracy: state.bestVal,
      backend,
      seconds: state.seconds,
    },
  };
}

/**
 * One epoch: its batches in a seeded order, validation, a checkpoint. False when cancelled
 * before it finished (nothing of it is kept).
 */
async function trainEpoch(t: Training, epoch: number): Promise<boolean> {
  const { opts, cfg, trainSet, per, images, labels } = t;
  const t0 = performance.now();
  // Seeded per epoch, so a resumed run sees the same order as an uninterrupted one.
  const rng = new Rng(cfg.seed * 1000003 + epoch);
  const order = Int32Array.from({ length: trainSet.count }, (_, i) => i);
  rng.shuffle(order);
  const batches = Math.ceil(trainSet.count / cfg.batchSize);
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  for (let b = 0; b < batches; b++) {
    if (opts.signal?.aborted) return false;
    const a = b * cfg.batchSize;
    const n = Math.min(cfg.batchSize, trainSet.count - a);
    for (let i = 0; i < n; i++) {
      const j = order[a + i]!;
      images.set(trainSet.images.subarray(j * per, (j + 1) * per), i * per);
      labels[i] = trainSet.labels[j]!;
    }
    const aug = cfg.augment ? augmentFor(rng, n, Math.round(t.size / 8), !t.data.info.noMirror) : null;
    const r = await t.optimizer.step(images.subarray(0, n * per), labels.subarray(0, n), n, aug, per);
    lossSum += r.loss * n;
    correct += r.correct;
    seen += n;
    const ips = seen / ((performance.now() - t0) / 1000);
    const remainingImages = trainSet.count - seen + (cfg.epochs - epoch) * trainSet.count;
    opts.onEvent?.({
      type: 'batch',
      epoch,
      batch: b + 1,
      batches,
      loss: lossSum / seen,
      accuracy: correct / seen,
      imagesPerSecond: ips,
      etaSeconds: remainingImages / ips,
    });
  }
  const current: ModelArtifacts = { ...t.artifacts, weightData: t.pool.weights.slice().buffer };
  const val =
    t.valSet.count > 0 ? (await evaluate(t.pool, current, t.valSet, t.classes)).top1 : correct / seen;
  const seconds = (performance.now() - t0) / 1000;
  const rec: EpochRecord = {
    epoch,
    loss: lossSum / seen,
    accuracy: correct / seen,
    valAccuracy: val,
    seconds,
    imagesPerSecond: seen / seconds,
  };
  const { state } = t;
  const best = val > state.bestVal;
  t.state = {
    epoch,
    history: [...state.history, rec],
    bestEpoch: best ? epoch : state.bestEpoch,
    bestVal: best ? val : state.bestVal,
    seconds: state.seconds + seconds,
  };
  const weights: ModelArtifacts = { ...t.artifacts, weightData: t.pool.weights.slice().buffer };
  const optimizer = t.optimizer.adam.serialize();
  await saveCheckpoint(t.runDir, epoch, weights, modelMeta(t, epoch), optimizer, t.state, best);
  opts.onEvent?.({
    type: 'epoch',
    ...rec,
    epochs: cfg.epochs,
    best,
    etaSeconds: (cfg.epochs - epoch) * seconds,
  });
  return true;
}

/** The result: the best-validation checkpoint, evaluated on the test set and saved as model/. */
async function finish(t: Training, cancelled: boolean, started: number): Promise<TrainResult> {
  const { cfg, state, classes, runDir, pool } = t;
  let top1 = 0;
  let top5 = 0;
  let modelDir: string | null = null;
  let evalEngine = 'none';
  // The pointer names a checkpoint of this run folder (readPointer checks it), never a path elsewhere.
  const bestName = await readPointer(runDir, 'best.json');
  if (bestName) {
    const best = await readModelDir(path.join(runDir, bestName));
    const pre = preprocessOf(t.opts.architecture);
    await pool.load(best.artifacts, pre);
    t.opts.onEvent?.({ type: 'evaluate', stage: 'test' });
    ({ top1, top5, engine: evalEngine } = await evaluate(pool, best.artifacts, t.data.test, classes, pre));
    const m = modelMeta(t, state.epoch);
    m.training = { ...m.training!, top1, top5 };
    modelDir = path.join(runDir, 'model');
    await saveModelDir(modelDir, best.artifacts, m);
  }
  return {
    status: cancelled ? 'cancelled' : 'finished',
    epochsDone: state.epoch,
    bestEpoch: state.bestEpoch,
    valAccuracy: Math.max(0, state.bestVal),
    top1,
    top5,
    seconds: (Date.now() - started) / 1000,
    modelDir,
    backend: t.backend,
    backendDetail: backendDetail(t),
    evalEngine,
    history: state.history,
    resumedFrom: t.resumedFrom,
    stoppedEarly: !cancelled && patienceRanOut(t) && state.epoch < cfg.epochs,
    converged: converged(
      { epochsDone: state.epoch, bestEpoch: state.bestEpoch, bestVal: state.bestVal, classes },
      cfg.patience,
    ),
    resume: t.resume,
  };
}
