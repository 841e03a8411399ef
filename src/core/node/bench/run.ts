// What the engine figures share: the model (model.ts) and the random batch they step on,
// PyTorch when it runs, and how one figure is timed (interleaved with PyTorch, or alone),
// skipped when one step would not fit its budget or refused for the model, and how an engine
// is started and closed around it.
import type { BackendName } from '../../common/api.ts';
import type { UserError } from '../../common/errors.ts';
import { Rng } from '../data/random.ts';
import { initBackend } from '../graph/backend.ts';
import type { TrainingEngine } from '../engine/training-engine.ts';
import { PIXEL_CHANNELS } from '../graph/inputs.ts';
import {
  reasonOf,
  round1,
  type BenchSettings,
  type Emit,
  type EngineBase,
  type ModelLabel,
} from './figure.ts';
import { benchModel, type BenchModel, type ModelFolder } from './model.ts';
import { interleaved, type TorchRounds } from './torch.ts';

/** Times `fn` for about `seconds` (at least `minRuns` runs after one warm-up). */
async function rate(fn: () => Promise<void>, images: number, seconds: number, minRuns = 2): Promise<number> {
  await fn();
  let runs = 0;
  const t0 = performance.now();
  while (runs < minRuns || performance.now() - t0 < seconds * 1000) {
    await fn();
    runs++;
  }
  return (images * runs) / ((performance.now() - t0) / 1000);
}

export class BenchRun {
  /** The fastest training measured so far (images/s), what the decomposition compares with. */
  bestTrainingRate = 0;
  /**
   * The most a figure's single step may take: twice the figure's budget (at least 2 s), as the
   * extrapolation is rough on a busy machine and a tiny --seconds must still measure what is fast.
   */
  readonly stepBudget: number;

  readonly settings: BenchSettings;
  readonly emit: Emit;
  readonly torch: TorchRounds | null;
  /** The model of the engine figures: the ResNet of `depth` and `size`, or a model folder. */
  readonly model: BenchModel;
  /** Seeded random pixels and labels of one batch; later figures go on drawing from `rng`. */
  readonly rng: Rng;
  readonly images: Uint8Array;
  readonly labels: Int32Array;

  private constructor(
    settings: BenchSettings,
    emit: Emit,
    torch: TorchRounds | null,
    model: BenchModel,
    rng: Rng,
    images: Uint8Array,
    labels: Int32Array,
  ) {
    this.settings = settings;
    this.emit = emit;
    this.torch = torch;
    this.model = model;
    this.rng = rng;
    this.images = images;
    this.labels = labels;
    this.stepBudget = Math.max(2 * settings.seconds, 2);
  }

  static async create(
    settings: BenchSettings,
    emit: Emit,
    torch: TorchRounds | null,
    folder: ModelFolder | null,
  ): Promise<BenchRun> {
    const { batch, backends } = settings;
    await initBackend(backends.includes('wasm') ? 'wasm' : null);
    const model = await benchModel(settings, folder);
    const rng = new Rng(7);
    const per = model.size * model.size * PIXEL_CHANNELS;
    const images = Uint8Array.from({ length: batch * per }, () => rng.int(256));
    const labels = Int32Array.from({ length: batch }, () => rng.int(model.classes));
    return new BenchRun(settings, emit, torch, model, rng, images, labels);
  }

  /** Values of one image (stored RGB, whatever the model's channels). */
  get per(): number {
    return this.model.size * this.model.size * PIXEL_CHANNELS;
  }

  /** What every figure says of the model. */
  get label(): ModelLabel {
    return this.model.label;
  }

  /** One figure: interleaved with PyTorch when it runs, else timed alone; its images/s. */
  async measure(
    figure: 'training' | 'inference',
    base: EngineBase,
    step: () => Promise<void>,
  ): Promise<number> {
    const { batch, seconds } = this.settings;
    if (this.torch) {
      const r = await interleaved(
        this.torch,
        figure === 'training' ? 'train' : 'infer',
        step,
        batch,
        seconds,
      );
      this.emit({ figure, ...base, ...r });
      return r.images_per_second;
    }
    const ips = round1(await rate(step, batch, seconds));
    this.emit({ figure, ...base, images_per_second: ips });
    return ips;
  }

  /**
   * A figure whose single step would not fit its time budget is skipped (the pure-JS cpu
   * backend takes minutes per step), with a line saying so.
   */
  skipped(figure: string, base: object, estimate: number): void {
    this.emit({
      figure,
      ...base,
      skipped: true,
      reason: `one step of ${this.settings.batch} images would take about ${Math.round(estimate)} s (extrapolated from 1 and 2 images per worker), over ${this.stepBudget} s (twice --seconds, at least 2)`,
    });
  }

  /**
   * The seconds a full step would take, extrapolated linearly (a fixed cost plus a cost per
   * image) from steps of one and two images per worker: a pool runs its shares side by side,
   * so the cost per image is measured on each worker's share (1 and 2 images on one worker
   * alone would look free on the second).
   */
  async probeSeconds(fn: (n: number) => Promise<void>, workers: number): Promise<number> {
    const { batch } = this.settings;
    const p = Math.max(1, Math.min(workers, batch));
    await fn(p); // warm-up
    const time = async (n: number) => {
      const t0 = performance.now();
      await fn(n);
      return (performance.now() - t0) / 1000;
    };
    const t1 = await time(p);
    // A full step costs at least one share's: past the budget already, no second probe.
    if (batch <= p || t1 > this.stepBudget) return t1;
    const t2 = await time(Math.min(2 * p, batch));
    return Math.max(t2, t1 + (t2 - t1) * (Math.ceil(batch / p) - 1));
  }

  /** A figure the model cannot have: its line says why and what to do (the refusal's message and hint). */
  refused(figure: string, base: object, e: UserError): void {
    this.emit({ figure, ...base, available: false, reason: e.message, hint: e.hint });
  }

  /**
   * Starts one engine for a figure, loads what the training figures train into it, and closes
   * it after `use`. One that cannot start (or load) gets a 'backend' line saying why, where
   * `say`; false then.
   */
  async withEngine<E extends Pick<TrainingEngine, 'load' | 'close'>>(
    backend: BackendName,
    start: () => Promise<E>,
    say: boolean,
    use: (engine: E) => Promise<void>,
  ): Promise<boolean> {
    let engine: E;
    try {
      engine = await start();
      try {
        await engine.load(this.model.training, this.model.preprocess);
      } catch (e) {
        await engine.close();
        throw e;
      }
    } catch (e) {
      if (say) this.emit({ figure: 'backend', backend, available: false, reason: reasonOf(e) });
      return false;
    }
    try {
      await use(engine);
    } finally {
      await engine.close();
    }
    return true;
  }
}
