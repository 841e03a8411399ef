// Chooses the training engine at run time: onnxruntime's training graphs wherever
// onnxruntime-node loads and the model's layers all have a training rule, else the tfjs
// worker pool on the fastest tfjs backend (tensorflow, wasm, cpu). --backend /
// DECOMPOSER_BACKEND force one. The report names the active engine and why faster ones are
// not active (onnxruntime-node missing, or the layer it cannot train).
import os from 'node:os';
import type { BackendName, BackendReport, BackendStatus } from '../../common/api.ts';
import { within, workersBound, type Bound } from '../../common/bounds.ts';
import { UserError } from '../../common/errors.ts';
import { BACKEND_PREFERENCE, initBackend } from '../graph/backend.ts';
import { loadOrt, ortFailure } from '../graph/ort.ts';
import type { ModelArtifacts, Preprocess } from '../models/io.ts';
import { defaultTrainingDevice, type TrainingDevice } from './onnx-train/device.ts';
import { OnnxTrainEngine, onnxActivationBudget } from './onnx-train/engine.ts';
import { OnnxTrainPool } from './onnx-train/pool.ts';
import { trainableLayerClasses } from './onnx-train/rules/index.ts';
import { TfjsPool } from './tfjs/pool.ts';
import type { DeviceChoice, TrainingEngine, WeightLayout } from './training-engine.ts';

export {
  parseTrainingDevice,
  setDefaultTrainingDevice,
  TRAINING_DEVICES,
  type TrainingDevice,
} from './onnx-train/device.ts';

export interface TrainingEngineOptions {
  backend?: BackendName | null;
  /** onnxruntime's device (null: the process default, setDefaultTrainingDevice). */
  device?: TrainingDevice | null;
  /**
   * tfjs pool workers (default one per core, 0: one engine in this thread); on onnxruntime,
   * the cores it uses (default every core; 0: one session in this thread on every core).
   */
  workers?: number;
}

/**
 * Most training workers: one single-threaded session per core up to here. Per pair of cores,
 * two single-threaded workers on half the images each ran well ahead of one two-thread
 * session (a filter gradient's many small per-offset products and strided copies gain little
 * from a second thread), and a share of a few images still trains near its full speed
 * (measured; the numbers are in the bench and the closing notes, not here).
 */
const MAX_TRAINING_WORKERS = 16;

/**
 * Worker threads and intra-op threads each for `threads` cores on the CPU: whole steps side
 * by side, or null for one session (one core).
 */
export function poolShape(threads: number): { workers: number; threads: number } | null {
  if (threads < 2) return null;
  const workers = Math.min(threads, MAX_TRAINING_WORKERS);
  return { workers, threads: Math.floor(threads / workers) };
}

/** The worker counts this machine takes: up to four per core (bounds.ts). */
export function workersHere(): Bound {
  return workersBound(os.availableParallelism());
}

/** Refuses a worker count beyond this machine's bound, before any thread starts. */
export function checkWorkers(workers: number | undefined): void {
  if (workers === undefined) return;
  const bound = workersHere();
  if (!within(bound, workers))
    throw new UserError(
      `${workers} engine workers is not possible here: workers must be ${bound.rule} on this machine's ${os.availableParallelism()} cores.`,
      'Leave workers unset for one per core, or give a smaller number.',
      'bad-workers',
    );
}

/** onnxruntime intra-op threads for training: `workers` when given (> 0), else every core. */
export function trainingThreads(workers?: number): number {
  return workers && workers > 0 ? workers : Math.max(1, os.availableParallelism());
}

/** The report with onnxruntime's status first, then the tfjs backends'. */
function withOnnx(r: BackendReport, onnx: BackendStatus, forced: BackendName | null): BackendReport {
  const candidates = [onnx, ...r.candidates.filter((c) => c.name !== 'onnxruntime')];
  candidates.sort((a, b) => BACKEND_PREFERENCE.indexOf(a.name) - BACKEND_PREFERENCE.indexOf(b.name));
  return { ...r, forced, candidates };
}

/**
 * Which engine the next training would use (before a model is known): onnxruntime where
 * onnxruntime-node loads and no tfjs backend is forced. Also starts the tfjs backend, which
 * builds models and trains where onnxruntime cannot.
 */
export async function trainingReport(force: BackendName | null): Promise<BackendReport> {
  const tfjs = await initBackend(force);
  if (force && force !== 'onnxruntime') {
    return withOnnx(
      tfjs,
      { name: 'onnxruntime', ok: false, reason: `not tried: ${force} was forced` },
      force,
    );
  }
  try {
    await loadOrt();
  } catch (e) {
    const reason = ortFailure(e, 300);
    if (force) {
      throw new UserError(
        `The onnxruntime training engine cannot start (${reason}).`,
        'Choose another engine with --backend auto.',
        'no-backend',
      );
    }
    return withOnnx(tfjs, { name: 'onnxruntime', ok: false, reason }, force);
  }
  const r = withOnnx(tfjs, { name: 'onnxruntime', ok: true }, force);
  // The tfjs backend that loaded still builds models and trains what onnxruntime cannot.
  const candidates = r.candidates.map((c) =>
    c.name === tfjs.active ? { ...c, reason: 'ready: builds models, trains what onnxruntime cannot' } : c,
  );
  return { ...r, active: 'onnxruntime', candidates };
}

/**
 * Why an imported architecture (a stored plan) cannot train, given what onnxruntime said: it
 * trains on onnxruntime or not at all (the tfjs engines run tfjs-layers models only, so falling
 * back would hide why).
 */
export function importedTrainingRefusal(e: unknown): UserError {
  return new UserError(
    `This imported architecture cannot be trained here (${ortFailure(e, 300)}).`,
    `Imported architectures train on the onnxruntime engine only, with these layers: ${trainableLayerClasses().join(', ')}. Decompose, evaluate and predict with the model; what would train it is refused.`,
    e instanceof UserError ? e.code : 'no-backend',
  );
}

/**
 * Opens the training engine for a model and loads it. Where onnxruntime cannot train it
 * (not installed, or a layer without a training rule) and was not forced, the tfjs pool
 * trains instead and the report says why.
 */
export async function openTrainingEngine(
  artifacts: ModelArtifacts,
  pre: Preprocess,
  opts: TrainingEngineOptions = {},
): Promise<{ engine: TrainingEngine; layout: WeightLayout }> {
  checkWorkers(opts.workers);
  const forced = opts.backend ?? null;
  let onnx: BackendStatus = { name: 'onnxruntime', ok: false, reason: `not tried: ${forced} was forced` };
  if (forced === null || forced === 'onnxruntime') {
    let engine: OnnxTrainEngine | OnnxTrainPool | null = null;
    try {
      const ort = await loadOrt();
      const threads = trainingThreads(opts.workers);
      const device = opts.device ?? defaultTrainingDevice();
      const split = device === 'cpu' && opts.workers !== 0 ? poolShape(threads) : null;
      engine = split
        ? new OnnxTrainPool(split.workers, {
            threads: split.threads,
            device,
            activationBudget: onnxActivationBudget() / split.workers,
          })
        : new OnnxTrainEngine(ort, { threads, device });
      const layout = await engine.load(artifacts, pre);
      const d = engine.device!;
      engine.report = {
        active: 'onnxruntime',
        forced,
        device: { active: d.active, provider: d.provider, ...(d.reason ? { reason: d.reason } : {}) },
        candidates: BACKEND_PREFERENCE.map((name) =>
          name === 'onnxruntime'
            ? { name, ok: true }
            : {
                name,
                ok: false,
                reason: forced ? `not tried: ${forced} was forced` : 'not needed: onnxruntime is faster',
              },
        ),
      };
      return { engine, layout };
    } catch (e) {
      await engine?.close();
      const reason = ortFailure(e, 300);
      if (artifacts.kind === 'plan') throw importedTrainingRefusal(e);
      if (forced === 'onnxruntime') {
        throw new UserError(
          `The onnxruntime training engine cannot train this model (${reason}).`,
          e instanceof UserError ? e.hint : 'Choose another engine with --backend auto.',
          e instanceof UserError ? e.code : 'no-backend',
        );
      }
      onnx = { name: 'onnxruntime', ok: false, reason };
    }
  }
  const pool = await TfjsPool.create({ workers: opts.workers, backend: forced });
  try {
    const layout = await pool.load(artifacts, pre);
    pool.report = withOnnx(pool.report!, onnx, forced);
    return { engine: pool, layout };
  } catch (e) {
    await pool.close();
    throw e;
  }
}

/**
 * A training engine whose choice waits for the model: the first load() opens onnxruntime
 * or the tfjs pool (openTrainingEngine); later loads of another model may switch.
 */
class ChosenEngine implements TrainingEngine {
  private inner: TrainingEngine | null = null;
  private readonly opts: TrainingEngineOptions;

  constructor(opts: TrainingEngineOptions) {
    this.opts = opts;
  }

  private get e(): TrainingEngine {
    if (!this.inner) throw new Error('training engine: no model loaded');
    return this.inner;
  }
  get weights(): Float32Array<ArrayBufferLike> {
    return this.e.weights;
  }
  set weights(w: Float32Array<ArrayBufferLike>) {
    this.e.weights = w;
  }
  get grads(): Float32Array<ArrayBufferLike> {
    return this.e.grads;
  }
  get layout(): WeightLayout | null {
    return this.inner?.layout ?? null;
  }
  get report(): BackendReport | null {
    return this.inner?.report ?? null;
  }
  get size(): number {
    return this.inner?.size ?? 0;
  }
  get inference(): 'onnxruntime' | null {
    return this.inner?.inference ?? null;
  }
  get device(): DeviceChoice | null {
    return this.inner?.device ?? null;
  }

  async load(artifacts: ModelArtifacts, pre: Preprocess): Promise<WeightLayout> {
    if (this.inner) {
      try {
        return await this.inner.load(artifacts, pre);
      } catch (e) {
        // Another model that onnxruntime cannot train: choose again (unless it was forced).
        if (!(e instanceof UserError) || this.inner.inference !== 'onnxruntime' || this.opts.backend) throw e;
        await this.inner.close();
        this.inner = null;
      }
    }
    const { engine, layout } = await openTrainingEngine(artifacts, pre, this.opts);
    this.inner = engine;
    return layout;
  }

  weightsChanged(): void {
    this.e.weightsChanged();
  }

  gradients(...args: Parameters<TrainingEngine['gradients']>) {
    return this.e.gradients(...args);
  }

  predict(...args: Parameters<TrainingEngine['predict']>) {
    return this.e.predict(...args);
  }

  async close(): Promise<void> {
    await this.inner?.close();
    this.inner = null;
  }
}

/** The training engine the trainer drives; which one trains is chosen at the first load(). */
export function createTrainingEngine(opts: TrainingEngineOptions = {}): TrainingEngine {
  return new ChosenEngine(opts);
}
