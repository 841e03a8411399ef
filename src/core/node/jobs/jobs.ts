// The jobs layer: long work started from a shell (train, demo, dataset download or import)
// runs here, in the core's process, with a unique id, progress pushed to subscribers as
// ProgressEvents, cancel through an AbortSignal, and every training recorded in the store as
// a run with its energy. Job state lives here, not in a page: a page that reloads asks
// listJobs and sees a running job still running. Runs found 'running' in the store at
// start-up whose process is gone are listed as interrupted jobs.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DECOMPOSE_APPROACHES } from '../../common/api.ts';
import type {
  BackendName,
  DecomposeParams,
  DemoParams,
  DownloadableDataset,
  EpochMetrics,
  ImportSpec,
  JobInfo,
  JobKind,
  JobPayload,
  JobStatus,
  PowerSample,
  ProgressEvent,
  ScenarioParams,
  TrainParams,
} from '../../common/api.ts';
import type { DatasetSpec, Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { downloadDataset, KNOWN_DOWNLOADS, loadDataset } from '../data/index.ts';
import { cacheDir, downloadsDir, runsDir } from '../paths.ts';
import type { RunRecorder } from '../store/recorder.ts';
import { effectiveSettings } from '../store/settings.ts';
import type { Store } from '../store/store.ts';
import { train } from '../train/trainer.ts';
import { runDecomposition, runScenario, type AnalysisContext } from './analysis.ts';
import { addImported, loadById } from './datasets.ts';
import { recordTrainingRun } from './record.ts';

/** The demo's defaults (the CLI's `decomposer demo` uses the same model and dataset). */
export const UI_DEMO_DEFAULTS = { depth: 20, epochs: 4, perClass: 500, batch: 32 } as const;
const MAX_POWER_SAMPLES = 600;

export interface JobManagerOptions {
  home: string;
  store: () => Store;
  /** Backend and worker count in force (settings over the shell's choice). */
  engine: () => { backend: BackendName | null; workers: number | undefined };
  emit: (event: ProgressEvent) => void;
}

interface Job {
  info: JobInfo;
  controller: AbortController;
  done: Promise<void>;
}

function newJobId(): string {
  return `job-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export class JobManager {
  private readonly o: JobManagerOptions;
  private readonly jobs = new Map<string, Job>();
  private readonly interrupted: JobInfo[] = [];

  constructor(o: JobManagerOptions) {
    this.o = o;
  }

  /** Runs the store marked interrupted when it opened, listed as jobs. */
  noteInterrupted(store: Store): void {
    for (const id of store.interruptedAtOpen) {
      const run = store.getRun(id);
      if (!run) continue;
      this.interrupted.push({
        id: `run-${id}`,
        kind:
          run.kind === 'decompose'
            ? 'decompose'
            : run.kind === 'reuse' || run.kind === 'replace'
              ? 'scenario'
              : (run.params as { demo?: boolean } | null)?.demo
                ? 'demo'
                : 'train',
        status: 'interrupted',
        label: run.label ?? `Run ${id}`,
        startedAt: run.started_at,
        endedAt: run.ended_at,
        runId: id,
        progress: null,
        etaSeconds: null,
        epochs: [],
        power: [],
        energySource: run.energy?.source ?? null,
        error: 'The app stopped while this run was going; finished epochs are kept.',
        result: null,
      });
    }
  }

  list(): JobInfo[] {
    const live = [...this.jobs.values()].map((j) => structuredClone(j.info));
    return [...live.reverse(), ...this.interrupted];
  }

  get(id: string): JobInfo | null {
    const j = this.jobs.get(id);
    return j ? structuredClone(j.info) : null;
  }

  cancel(id: string): boolean {
    const j = this.jobs.get(id);
    if (!j || j.info.status !== 'running') return false;
    j.controller.abort(new UserError('Cancelled.', 'Start it again when you want.', 'cancelled'));
    return true;
  }

  /** Waits for every running job (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done));
  }

  cancelAll(): void {
    for (const id of this.jobs.keys()) this.cancel(id);
  }

  private event(job: Job, payload?: JobPayload): void {
    const i = job.info;
    this.o.emit({
      jobId: i.id,
      kind: i.kind,
      status: i.status,
      progress: i.progress ?? { stage: i.status, fraction: null },
      ...(payload ? { payload } : {}),
    });
  }

  private status(job: Job): void {
    this.event(job, { type: 'status', job: structuredClone(job.info) });
  }

  private start(kind: JobKind, label: string, run: (job: Job) => Promise<Partial<JobInfo> | void>): JobInfo {
    const info: JobInfo = {
      id: newJobId(),
      kind,
      status: 'running',
      label,
      startedAt: new Date().toISOString(),
      endedAt: null,
      runId: null,
      progress: { stage: 'Starting', fraction: 0 },
      etaSeconds: null,
      epochs: [],
      power: [],
      energySource: null,
      error: null,
      result: null,
    };
    const job: Job = { info, controller: new AbortController(), done: Promise.resolve() };
    this.jobs.set(info.id, job);
    job.done = (async () => {
      // Let the caller receive the job before its first event.
      await new Promise((r) => setImmediate(r));
      this.status(job);
      try {
        const extra = await run(job);
        Object.assign(info, extra ?? {});
        if (info.status === 'running') info.status = job.controller.signal.aborted ? 'cancelled' : 'finished';
      } catch (e) {
        if (job.controller.signal.aborted) info.status = 'cancelled';
        else {
          info.status = 'failed';
          info.error = describe(e);
        }
      }
      info.endedAt = new Date().toISOString();
      info.etaSeconds = null;
      info.progress = {
        stage: info.status === 'finished' ? 'Done' : info.status === 'cancelled' ? 'Cancelled' : 'Failed',
        fraction: info.status === 'finished' ? 1 : (info.progress?.fraction ?? null),
      };
      this.status(job);
    })();
    return structuredClone(info);
  }

  private busyTraining(): void {
    for (const j of this.jobs.values())
      if ((j.info.kind === 'train' || j.info.kind === 'demo') && j.info.status === 'running')
        throw new UserError(
          `A training job is already running (${j.info.label}).`,
          'Wait for it to finish or cancel it, then start this one.',
          'busy',
        );
  }

  startTraining(p: TrainParams): JobInfo {
    this.busyTraining();
    const label = `ResNet-${p.depth} on ${p.dataset}, ${p.epochs} epoch${p.epochs === 1 ? '' : 's'}`;
    return this.start('train', label, (job) =>
      this.runTraining(job, p.dataset, p.perClass ?? null, {
        depth: p.depth,
        epochs: p.epochs,
        seed: p.seed,
        augment: p.augment,
        ...(p.batchSize ? { batchSize: p.batchSize } : {}),
      }),
    );
  }

  runDemo(p: DemoParams = {}): JobInfo {
    this.busyTraining();
    const depth = p.depth ?? UI_DEMO_DEFAULTS.depth;
    const epochs = p.epochs ?? UI_DEMO_DEFAULTS.epochs;
    const perClass = p.perClass ?? UI_DEMO_DEFAULTS.perClass;
    const dataset: DatasetSpec = { kind: 'synthetic', name: 'shapes', size: 32 };
    return this.start('demo', `Demo: ResNet-${depth} on embedded shapes, ${epochs} epochs`, async (job) => {
      const trained = await this.runTraining(
        job,
        null,
        perClass,
        { depth, epochs, seed: 1, batchSize: UI_DEMO_DEFAULTS.batch },
        { ...dataset, trainPerClass: perClass, testPerClass: Math.max(10, Math.round(perClass / 5)) },
      );
      const modelDir = trained.result?.modelDir;
      if (trained.status !== 'finished' || !modelDir) return trained;
      // The demo pipeline goes on to decompose the model it trained (the paper's Table 1);
      // the job keeps its label and the training run's id.
      const label = job.info.label;
      const table1 = await runDecomposition(
        { ...this.analysis(job), onRunId: undefined, setLabel: undefined },
        {
          modelDir,
          approaches: [...DECOMPOSE_APPROACHES],
          delta: 0.5,
          perClass: Math.min(200, perClass),
          seed: 1,
          point: 'relu',
        },
      );
      job.info.label = label;
      return { ...trained, result: { ...trained.result, table1 } };
    });
  }

  private async runTraining(
    job: Job,
    datasetId: string | null,
    perClass: number | null,
    config: { depth: number; epochs: number; seed: number; augment?: boolean; batchSize?: number },
    spec?: DatasetSpec,
  ): Promise<Partial<JobInfo>> {
    const info = job.info;
    const signal = job.controller.signal;
    const onProgress = (p: Progress): void => {
      info.progress = { stage: `Loading dataset: ${p.stage}`, fraction: p.fraction };
      this.event(job);
    };
    info.progress = { stage: 'Loading dataset', fraction: null };
    this.event(job);
    const data = spec
      ? await loadDataset(spec, { cacheDir: cacheDir(this.o.home), signal, onProgress })
      : await loadById(this.o.home, datasetId!, perClass, signal, onProgress);
    signal.throwIfAborted();
    info.label = `${info.kind === 'demo' ? 'Demo: ' : ''}ResNet-${config.depth} on ${data.info.name} (${data.info.trainCount} images), ${config.epochs} epoch${config.epochs === 1 ? '' : 's'}`;
    const store = this.o.store();
    const settings = effectiveSettings(store);
    const engine = this.o.engine();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const runDir = path.join(
      runsDir(this.o.home),
      `${data.info.id}-r${config.depth}-s${config.seed}-${stamp}`,
    );
    info.progress = {
      stage:
        settings.idleSeconds > 0
          ? `Measuring idle power for ${settings.idleSeconds} s`
          : 'Starting the engines',
      fraction: 0,
    };
    this.event(job);

    let recorder: RunRecorder | null = null;
    let last: { t: number; cpuJ: number; dramJ: number; gpuJ: number } | null = null;
    const t0 = Date.now();
    const sampler = setInterval(() => {
      if (!recorder) return;
      const e = recorder.energyNow();
      const now = {
        t: (Date.now() - t0) / 1000,
        cpuJ: e.cpu_w * e.seconds,
        dramJ: e.dram_w * e.seconds,
        gpuJ: e.gpu_w * e.gpus * e.seconds,
      };
      if (last && now.t > last.t) {
        const dt = now.t - last.t;
        const idle = recorder.idle;
        const sample: PowerSample = {
          t: Math.round(now.t * 10) / 10,
          cpuW: Math.max(0, (now.cpuJ - last.cpuJ) / dt + idle.cpuW),
          dramW: Math.max(0, (now.dramJ - last.dramJ) / dt + idle.dramW),
          gpuW: Math.max(0, (now.gpuJ - last.gpuJ) / dt + idle.gpuW),
        };
        info.power.push(sample);
        if (info.power.length > MAX_POWER_SAMPLES)
          info.power.splice(0, info.power.length - MAX_POWER_SAMPLES);
        this.event(job, { type: 'power', sample });
      }
      last = now;
    }, 500);
    sampler.unref();
    try {
      const rec = await recordTrainingRun({
        store,
        settings,
        label: info.label,
        params: {
          ...(info.kind === 'demo' ? { demo: true } : {}),
          dataset: data.info.id,
          run_dir: runDir,
          workers: engine.workers ?? null,
          ...config,
        },
        onRecorder: (r) => {
          recorder = r;
          info.runId = r.id;
          info.energySource = r.sources.report.source;
          info.progress = { stage: 'Starting the engines', fraction: 0 };
          this.status(job);
        },
        work: (onEvent) =>
          train({
            runDir,
            data,
            workers: engine.workers,
            backend: engine.backend,
            signal,
            onEvent,
            config,
          }),
        onEvent: (e) => {
          if (e.type === 'batch') {
            const fraction = (e.epoch - 1 + e.batch / e.batches) / config.epochs;
            info.progress = {
              stage: `Training epoch ${e.epoch}/${config.epochs}`,
              fraction: Math.min(1, fraction),
              detail: `batch ${e.batch}/${e.batches}, loss ${e.loss.toFixed(3)}, ${Math.round(e.imagesPerSecond)} img/s`,
            };
            info.etaSeconds = e.etaSeconds;
            this.event(job, e);
          } else if (e.type === 'epoch') {
            const metrics: EpochMetrics = {
              epoch: e.epoch,
              epochs: e.epochs,
              loss: e.loss,
              accuracy: e.accuracy,
              valAccuracy: e.valAccuracy,
              seconds: e.seconds,
              best: e.best,
            };
            info.epochs.push(metrics);
            info.etaSeconds = e.etaSeconds;
            this.event(job, { type: 'epoch', metrics });
          } else if (e.type === 'evaluate') {
            info.progress = {
              stage: 'Evaluating on the test set',
              fraction: info.progress?.fraction ?? null,
            };
            this.event(job);
          } else if (e.type === 'start') {
            info.progress = { stage: `Training on ${e.backend}`, fraction: 0, detail: e.backendDetail };
            this.event(job);
          }
        },
      });
      const r = rec.result;
      return {
        status: r.status === 'cancelled' ? 'cancelled' : 'finished',
        result: { modelDir: r.modelDir ?? undefined, top1: r.top1, top5: r.top5, datasetId: data.info.id },
      };
    } finally {
      clearInterval(sampler);
    }
  }

  private analysis(job: Job): AnalysisContext {
    return {
      home: this.o.home,
      store: this.o.store(),
      engine: this.o.engine(),
      signal: job.controller.signal,
      progress: (p) => {
        job.info.progress = p;
        this.event(job);
      },
      onRunId: (id) => {
        job.info.runId = id;
        this.status(job);
      },
      setLabel: (label) => {
        job.info.label = label;
      },
    };
  }

  /** Decomposition (Table 1) of one model: its module sets are saved next to it. */
  startDecomposition(p: DecomposeParams): JobInfo {
    const label = `Decompose ${path.basename(path.dirname(p.modelDir))} (${p.approaches.join(', ')})`;
    return this.start('decompose', label, async (job) => {
      const table1 = await runDecomposition(this.analysis(job), p);
      return { result: { modelDir: table1.modelDir, datasetId: table1.datasetId, table1 } };
    });
  }

  /** One reuse or replace scenario with its train-from-scratch baseline. */
  startScenario(p: ScenarioParams): JobInfo {
    this.busyTraining();
    const label = `${p.kind === 'reuse' ? 'Reuse' : 'Replace'} scenario (baseline ${p.baselineEpochs} epoch${p.baselineEpochs === 1 ? '' : 's'})`;
    return this.start('scenario', label, async (job) => {
      const scenario = await runScenario(this.analysis(job), p);
      job.info.label = `${p.kind === 'reuse' ? 'Reuse' : 'Replace'}: ${scenario.classes.join(' + ').slice(0, 160)}`;
      return { result: { scenario } };
    });
  }

  downloadDataset(name: DownloadableDataset): JobInfo {
    const known = KNOWN_DOWNLOADS[name];
    return this.start('download', `Download ${known.fileName}`, async (job) => {
      const r = await downloadDataset(name, {
        destDir: downloadsDir(this.o.home),
        signal: job.controller.signal,
        onProgress: (p) => {
          job.info.progress = p;
          this.event(job);
        },
      });
      return { result: { path: r.path } };
    });
  }

  importDataset(s: ImportSpec): JobInfo {
    const spec: DatasetSpec =
      s.kind === 'folder'
        ? { kind: 'folder', path: s.path, size: s.size ?? 32 }
        : { kind: s.kind, path: s.path };
    return this.start('import', `Import ${s.kind} from ${s.path}`, async (job) => {
      const data = await loadDataset(spec, {
        cacheDir: cacheDir(this.o.home),
        signal: job.controller.signal,
        onProgress: (p) => {
          job.info.progress = p;
          this.event(job);
        },
      });
      await addImported(this.o.home, spec, data.info);
      return { result: { datasetId: data.info.id } };
    });
  }
}

function describe(e: unknown): string {
  if (e instanceof Error && e.name === 'UserError') return `${e.message} ${(e as UserError).hint}`.trim();
  return e instanceof Error ? e.message : String(e);
}

export type { JobStatus };
