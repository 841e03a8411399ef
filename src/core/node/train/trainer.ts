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
import { UserError } from '../../common/errors.ts';
import { Rng } from '../data/random.ts';
import { describeBackend, initBackend } from '../graph/backend.ts';
import { createTrainingEngine } from '../engine/training.ts';
import type { Augment, TrainingEngine } from '../engine/training-engine.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { lockFolder } from '../fs/lock.ts';
import {
  checkpointName,
  findResumePoint,
  readPointer,
  type CheckpointState,
  type ResumeReport,
} from './checkpoints.ts';
import {
  checkRunFolder,
  legacyCheckpoint,
  OPTIMIZER_BIN,
  pruneCheckpoints,
  readRunFolderConfig,
  sameRunConfig,
  STATE_JSON,
} from './run-folder.ts';
import type { EpochRecord } from './run-files.ts';
import {
  DEFAULT_PREPROCESS,
  modelToArtifacts,
  readModelDir,
  saveModelDir,
  type ModelArtifacts,
  type ModelMeta,
} from '../models/io.ts';
import { buildResNet } from '../models/resnet.ts';
import { openInference } from '../inference/index.ts';
import { Adam, DEFAULT_ADAM } from './adam.ts';
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
}

/** The images and labels at `idx`, as a new ImageSet. */
export function subset(set: ImageSet, idx: ArrayLike<number>): ImageSet {
  const per = set.size * set.size * 3;
  const images = new Uint8Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i]!;
    images.set(set.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = set.labels[j]!;
  }
  return { images, labels, count: idx.length, size: set.size };
}

/** Seeded, stratified-free split of the training set into train and validation parts. */
export function validationSplit(
  count: number,
  fraction: number,
  seed: number,
): { train: Int32Array; val: Int32Array } {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  new Rng(seed ^ 0x5eed).shuffle(order);
  const nVal = fraction > 0 ? Math.max(1, Math.round(count * fraction)) : 0;
  return { val: order.slice(0, nVal).sort(), train: order.slice(nVal) };
}

/** Seeded pad-and-crop shifts and horizontal flips for n images (no flips where mirroring changes the class). */
export function augmentFor(rng: Rng, n: number, pad: number, mirror: boolean): Augment {
  const a: Augment = { dx: new Int8Array(n), dy: new Int8Array(n), flip: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    a.dx[i] = rng.int(2 * pad + 1) - pad;
    a.dy[i] = rng.int(2 * pad + 1) - pad;
    // Drawn either way, so a dataset's crops do not depend on whether it may be mirrored.
    a.flip[i] = rng.next() < 0.5 && mirror ? 1 : 0;
  }
  return a;
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
  const inference = await openInference(artifacts, { preprocess: DEFAULT_PREPROCESS });
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

async function trainLocked(opts: TrainOptions): Promise<TrainResult> {
  const cfg: TrainConfig = { ...DEFAULT_TRAIN, ...opts.config };
  const { data, runDir } = opts;
  const classes = data.info.classNames.length;
  const size = data.info.imageSize;
  const started = Date.now();

  // The number of epochs and the patience say only when to stop: a run resumes with others.
  const askedConfig = {
    datasetId: data.info.id,
    classes,
    size,
    ...cfg,
    epochs: undefined,
    patience: undefined,
  };
  const prior = await readRunFolderConfig(runDir);
  if (prior) {
    if (!sameRunConfig(prior, askedConfig)) {
      const a = JSON.stringify({ ...prior, epochs: undefined, patience: undefined });
      throw new UserError(
        `${runDir} holds a run with other settings (${a}).`,
        'Use another --out folder, or the same settings to resume it.',
        'run-mismatch',
      );
    }
  } else {
    await writeFileAtomic(path.join(runDir, 'config.json'), JSON.stringify(askedConfig, null, 2));
  }

  const ownPool = !opts.pool;
  const pool = opts.pool ?? createTrainingEngine({ workers: opts.workers, backend: opts.backend });
  try {
    // Start from the newest intact checkpoint, if any; otherwise from a fresh, seeded model.
    const resume = await findResumePoint(runDir);
    let state: CheckpointState = { epoch: 0, history: [], bestEpoch: 0, bestVal: -1, seconds: 0 };
    let artifacts: ModelArtifacts;
    let optimizerBytes: Uint8Array | null = null;
    if (resume.checkpoint) {
      ({ artifacts, optimizer: optimizerBytes, state } = resume.checkpoint);
    } else {
      await initBackend(opts.backend ?? null);
      const model = buildResNet({
        depth: cfg.depth,
        inputSize: size,
        classes,
        batchNorm: cfg.batchNorm,
        seed: cfg.seed,
      });
      artifacts = await modelToArtifacts(model);
      model.dispose();
    }
    const resumedFrom = state.epoch;
    const layout = await pool.load(artifacts, DEFAULT_PREPROCESS);
    const ranges = layout.offsets.map((offset, i) => ({
      offset,
      size: layout.sizes[i]!,
      trainable: layout.trainable[i]!,
    }));
    const adam = new Adam(layout.total, { ...DEFAULT_ADAM, learningRate: cfg.learningRate });
    if (optimizerBytes) adam.restore(optimizerBytes);

    const split = validationSplit(data.train.count, cfg.valFraction, cfg.seed);
    const trainSet = subset(data.train, split.train);
    const valSet = subset(data.train, split.val);
    const per = size * size * 3;
    const backend = pool.report?.active ?? 'unknown';
    const meta = (epochs: number): ModelMeta => ({
      architecture: 'resnet',
      depth: cfg.depth,
      batchNorm: cfg.batchNorm,
      inputSize: size,
      classes,
      classNames: data.info.classNames,
      datasetId: data.info.id,
      datasetName: data.info.name,
      preprocess: DEFAULT_PREPROCESS,
      ...(data.info.grey ? { grey: data.info.grey } : {}),
      training: {
        epochs,
        bestEpoch: state.bestEpoch,
        seed: cfg.seed,
        valAccuracy: state.bestVal,
        backend,
        seconds: state.seconds,
      },
    });
    opts.onEvent?.({
      type: 'start',
      epochs: cfg.epochs,
      patience: cfg.patience,
      startEpoch: state.epoch,
      trainImages: trainSet.count,
      valImages: valSet.count,
      backend,
      backendDetail: pool.report ? describeBackend(pool.report) : backend,
      workers: pool.size,
      resume: resume.report,
    });

    const batches = Math.ceil(trainSet.count / cfg.batchSize);
    let cancelled = false;
    const images = new Uint8Array(cfg.batchSize * per);
    const labels = new Int32Array(cfg.batchSize);
    const patienceRanOut = () =>
      cfg.patience > 0 &&
      leftPlateau(state.bestVal, classes) &&
      state.epoch - state.bestEpoch >= cfg.patience;
    for (let epoch = state.epoch + 1; epoch <= cfg.epochs && !cancelled && !patienceRanOut(); epoch++) {
      const t0 = performance.now();
      // Seeded per epoch, so a resumed run sees the same order as an uninterrupted one.
      const rng = new Rng(cfg.seed * 1000003 + epoch);
      const order = Int32Array.from({ length: trainSet.count }, (_, i) => i);
      rng.shuffle(order);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        if (opts.signal?.aborted) {
          cancelled = true;
          break;
        }
        const a = b * cfg.batchSize;
        const n = Math.min(cfg.batchSize, trainSet.count - a);
        for (let i = 0; i < n; i++) {
          const j = order[a + i]!;
          images.set(trainSet.images.subarray(j * per, (j + 1) * per), i * per);
          labels[i] = trainSet.labels[j]!;
        }
        const aug = cfg.augment ? augmentFor(rng, n, Math.round(size / 8), !data.info.noMirror) : null;
        const r = await pool.gradients(images.subarray(0, n * per), labels.subarray(0, n), n, aug, per);
        adam.step(pool.weights, pool.grads, ranges);
        pool.weightsChanged();
        lossSum += r.loss * n;
        correct += r.correct;
        seen += n;
        const secs = (performance.now() - t0) / 1000;
        const ips = seen / secs;
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
      if (cancelled) break;
      const current: ModelArtifacts = { ...artifacts, weightData: pool.weights.slice().buffer };
      const val = valSet.count > 0 ? (await evaluate(pool, current, valSet, classes)).top1 : correct / seen;
      const seconds = (performance.now() - t0) / 1000;
      const rec: EpochRecord = {
        epoch,
        loss: lossSum / seen,
        accuracy: correct / seen,
        valAccuracy: val,
        seconds,
        imagesPerSecond: seen / seconds,
      };
      const best = val > state.bestVal;
      state = {
        epoch,
        history: [...state.history, rec],
        bestEpoch: best ? epoch : state.bestEpoch,
        bestVal: best ? val : state.bestVal,
        seconds: state.seconds + seconds,
      };
      await saveCheckpoint(runDir, epoch, pool, artifacts, meta(epoch), adam, state, best);
      opts.onEvent?.({
        type: 'epoch',
        ...rec,
        epochs: cfg.epochs,
        best,
        etaSeconds: (cfg.epochs - epoch) * seconds,
      });
    }

    // The result is the best-validation checkpoint, evaluated on the test set.
    let top1 = 0;
    let top5 = 0;
    let modelDir: string | null = null;
    let evalEngine = 'none';
    // The pointer names a checkpoint of this run folder (readPointer checks it), never a path elsewhere.
    const bestName = await readPointer(runDir, 'best.json');
    if (bestName) {
      const best = await readModelDir(path.join(runDir, bestName));
      await pool.load(best.artifacts, DEFAULT_PREPROCESS);
      opts.onEvent?.({ type: 'evaluate', stage: 'test' });
      ({ top1, top5, engine: evalEngine } = await evaluate(pool, best.artifacts, data.test, classes));
      const m = meta(state.epoch);
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
      backend,
      backendDetail: pool.report ? describeBackend(pool.report) : backend,
      evalEngine,
      history: state.history,
      resumedFrom,
      stoppedEarly: !cancelled && patienceRanOut() && state.epoch < cfg.epochs,
      converged: converged(
        { epochsDone: state.epoch, bestEpoch: state.bestEpoch, bestVal: state.bestVal, classes },
        cfg.patience,
      ),
      resume: resume.report,
    };
  } finally {
    if (ownPool) await pool.close();
  }
}

async function saveCheckpoint(
  runDir: string,
  epoch: number,
  pool: TrainingEngine,
  template: ModelArtifacts,
  meta: ModelMeta,
  adam: Adam,
  state: CheckpointState,
  best: boolean,
): Promise<void> {
  const name = checkpointName(epoch);
  const dir = path.join(runDir, name);
  const artifacts: ModelArtifacts = { ...template, weightData: pool.weights.slice().buffer };
  // A checkpoint folder no pointer names (a kill mid-write) is the run's own, whatever it holds.
  await saveModelDir(dir, artifacts, meta, {
    extra: [
      { name: OPTIMIZER_BIN, data: adam.serialize() },
      { name: STATE_JSON, data: JSON.stringify(state) },
    ],
    legacy: legacyCheckpoint,
  });
  // The pointers move only once the checkpoint is complete on disk.
  if (best) await writeFileAtomic(path.join(runDir, 'best.json'), JSON.stringify({ epoch, dir: name }));
  await writeFileAtomic(path.join(runDir, 'latest.json'), JSON.stringify({ epoch, dir: name }));
  await pruneUnpointed(runDir);
}

/** Keeps the checkpoints the pointers name; removes older ones and half-written leftovers. */
async function pruneUnpointed(runDir: string): Promise<void> {
  const keep = new Set<string>();
  for (const p of ['latest.json', 'best.json'] as const) {
    const ptr = await readPointer(runDir, p);
    if (ptr) keep.add(path.basename(ptr));
  }
  await pruneCheckpoints(runDir, keep);
}
