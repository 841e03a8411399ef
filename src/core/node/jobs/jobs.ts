// The jobs layer: long work started from a shell (train, demo, dataset download or import)
// runs here, in the core's process, with a unique id, progress pushed to subscribers as
// ProgressEvents, cancel through an AbortSignal, and every training recorded in the store as
// a run with its energy. Job state lives here, not in a page: a page that reloads asks
// listJobs and sees a running job still running. Runs found 'running' in the store at
// start-up whose process is gone are listed as interrupted jobs.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TRAINING_JOB_KINDS } from '../../common/api.ts';
import type {
  BackendName,
  DecomposeParams,
  DemoParams,
  DownloadableDataset,
  EpochMetrics,
  FaultyDemoParams,
  RepairedSummary,
  SaveRepairParams,
  WizardParams,
  ImportPart,
  ImportSpec,
  JobInfo,
  JobKind,
  JobPayload,
  JobStatus,
  PowerSample,
  ProgressEvent,
  ScenarioParams,
  Table1View,
  TrainParams,
} from '../../common/api.ts';
import type { DatasetSpec, LoadedDataset, Progress } from '../../common/dataset.ts';
import { DEMO_DEFAULTS } from '../demo.ts';
import { UserError } from '../../common/errors.ts';
import { downloadDataset, KNOWN_DOWNLOADS, loadDataset } from '../data/index.ts';
import { combineSpecs, type PartSpec } from '../data/combined.ts';
import { cacheDir, downloadsDir, repairedDir, runsDir, wizardDir } from '../paths.ts';
import { idlePowers, type RunRecorder } from '../measure/measured.ts';
import type { TrainEvent } from '../train/trainer.ts';
import { FAULTY_DEMO_DEFAULTS, makeFaultyDemo } from '../wizard/index.ts';
import { runWizard, saveWizardOption, type WizardOutcome } from '../workflows/wizard.ts';
import { repairedSummary, wizardView } from './wizard.ts';
import { effectiveSettings } from '../store/settings.ts';
import type { Store } from '../store/store.ts';
import { train } from '../train/trainer.ts';
import {
  modelAndData,
  runDecomposition,
  runScenario,
  scenarioView,
  table1View,
  type AnalysisContext,
} from './analysis.ts';
import { addImported, loadById } from './datasets.ts';
import { loadModelDataset } from '../workflows/model-data.ts';
import { recordTrainingRun, type RecordedTraining } from '../measure/training.ts';
import { runDemo, type DemoSettings, type DemoTable1 } from '../workflows/demo.ts';

const MAX_POWER_SAMPLES = 600;
/** The statuses of a training that can be resumed from its run folder. */
const RESUMABLE: readonly string[] = ['cancelled', 'interrupted', 'failed'];
/** Finished wizard runs whose options can still be saved (their module sets stay in memory). */
const KEPT_WIZARD_RUNS = 5;

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
  private readonly wizardRuns = new Map<string, WizardOutcome>();

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
        kind: interruptedKind(run.kind, run.params),
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
      if (TRAINING_JOB_KINDS.includes(j.info.kind) && j.info.status === 'running')
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
      this.runTraining(
        job,
        (signal, onProgress) => loadById(this.o.home, p.dataset, p.perClass ?? null, signal, onProgress),
        {
          depth: p.depth,
          epochs: p.epochs,
          seed: p.seed,
          augment: p.augment,
          ...(p.batchSize ? { batchSize: p.batchSize } : {}),
        },
      ),
    );
  }

  /**
   * Continues a cancelled, interrupted or failed training from its run folder's latest
   * checkpoint, with the configuration it recorded; the new run's energy carries the earlier
   * attempts'. Wizard and grid trainings are resumed by running their own feature again.
   */
  resumeTraining(runId: number): JobInfo {
    this.busyTraining();
    const store = this.o.store();
    const run = store.getRun(runId);
    if (!run) throw new UserError(`There is no run ${runId}.`, 'Choose a run from the list.', 'no-run');
    const p = (run.params ?? {}) as Record<string, unknown>;
    const no = (message: string, hint = 'Start a new training instead.', code = 'not-resumable') =>
      new UserError(message, hint, code);
    if (run.kind !== 'train') throw no(`Run ${runId} is not a training, so it cannot be resumed.`);
    if (p.wizard_demo || p.wizard || p.grid !== undefined || p.baseline !== undefined)
      throw no(
        `Run ${runId} is part of ${p.wizard_demo ? 'the wizard’s faulty demo model' : p.wizard ? 'a fix-it wizard run' : 'a reuse or replace scenario'}, so it cannot be resumed on its own.`,
        p.wizard_demo ? 'Make the demo model again from the wizard.' : 'Run that feature again.',
      );
    if (!RESUMABLE.includes(run.status))
      throw no(
        `Run ${runId} is ${run.status}, so there is nothing to resume.`,
        'Only a cancelled, interrupted or failed training can be resumed.',
      );
    const num = (k: string): number | undefined => (typeof p[k] === 'number' ? p[k] : undefined);
    const [depth, epochs, seed] = [num('depth'), num('epochs'), num('seed')];
    const runDir = p.run_dir;
    const dataset = p.dataset;
    if (
      typeof runDir !== 'string' ||
      typeof dataset !== 'string' ||
      depth === undefined ||
      epochs === undefined ||
      seed === undefined
    )
      throw no(`Run ${runId} did not record its run folder, dataset and settings, so it cannot be resumed.`);
    if (!existsSync(runDir))
      throw no(
        `Run ${runId}'s folder ${runDir} no longer exists, so there is nothing to resume from.`,
        undefined,
        'not-found',
      );
    const later = store
      .listRuns({ kind: 'train' })
      .find((r) => r.id > runId && (r.params as { run_dir?: unknown } | null)?.run_dir === runDir);
    if (later)
      throw no(
        `Run ${runId}'s training was already continued by run ${later.id}.`,
        `Open run ${later.id}${RESUMABLE.includes(later.status) ? ' and resume that one' : ''}.`,
        'already-resumed',
      );
    // Exactly the configuration it recorded: the run folder's config.json must match it.
    const batchSize = num('batchSize');
    const learningRate = num('learningRate');
    const valFraction = num('valFraction');
    const config = {
      depth,
      epochs,
      seed,
      ...(typeof p.augment === 'boolean' ? { augment: p.augment } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(learningRate !== undefined ? { learningRate } : {}),
      ...(valFraction !== undefined ? { valFraction } : {}),
      ...(typeof p.batchNorm === 'boolean' ? { batchNorm: p.batchNorm } : {}),
    };
    const name = (run.label ?? `training ${runId}`).replace(/^Resume /, '').replace(/ \(run \d+\)$/, '');
    const label = `Resume ${name} (run ${runId})`;
    return this.start(p.demo ? 'demo' : 'train', label, (job) =>
      this.runTraining(
        job,
        (signal, onProgress) => loadModelDataset(this.o.home, dataset, signal, onProgress),
        config,
        // The resumed run belongs to the experiment of the run it resumes.
        { runDir, label, params: { resumed_from_run: runId }, experimentId: run.experiment_id ?? undefined },
      ),
    );
  }

  runDemo(p: DemoParams = {}): JobInfo {
    this.busyTraining();
    const demo: DemoSettings = {
      depth: p.depth ?? DEMO_DEFAULTS.depth,
      epochs: p.epochs ?? DEMO_DEFAULTS.epochs,
      perClass: p.perClass ?? DEMO_DEFAULTS.perClass,
      batchSize: DEMO_DEFAULTS.batch,
      seed: DEMO_DEFAULTS.seed,
      size: DEMO_DEFAULTS.size,
      decomposePerClass: DEMO_DEFAULTS.decomposePerClass,
      scenarios: p.scenarios !== false,
    };
    const label = `Demo: ResNet-${demo.depth} on embedded shapes, ${demo.epochs} epochs`;
    return this.start('demo', label, async (job) => {
      const store = this.o.store();
      const engine = this.o.engine();
      const progress = (stage: string, fraction: number | null) => {
        job.info.progress = { stage: stage.slice(0, 200), fraction };
        this.event(job);
      };
      // The training job's own outcome (status, model, accuracy), which the demo's result extends.
      let trained: Partial<JobInfo> = {};
      const d = await runDemo(demo, {
        store,
        settings: effectiveSettings(store),
        signal: job.controller.signal,
        cacheDir: cacheDir(this.o.home),
        workers: engine.workers,
        backend: engine.backend,
        onProgress: (pr) => progress(pr.stage, pr.fraction),
        onInfo: (line) => progress(line.replace(/…$/, ''), null),
        train: async (data, config, experimentId) => {
          let recorded: RecordedTraining | undefined;
          trained = await this.runTraining(job, async () => data, config, {
            onRecorded: (r) => (recorded = r),
            experimentId,
          });
          // runTraining throws unless the training was recorded.
          return recorded!;
        },
        onTable1: (t) => {
          // Table 1 shows while the reuse and replace scenarios run with their baselines.
          job.info.result = { ...trained.result, table1: demoTable1(t) };
          this.status(job);
        },
      });
      if (!d.table1) return trained;
      const table1 = demoTable1(d.table1);
      const scenarios = d.scenarios ? [...d.scenarios.reuse, ...d.scenarios.replace].map(scenarioView) : null;
      return { ...trained, result: { ...trained.result, table1, ...(scenarios ? { scenarios } : {}) } };
    });
  }

  private loadSpec(spec: DatasetSpec, signal: AbortSignal, onProgress: (p: Progress) => void) {
    return loadDataset(spec, { cacheDir: cacheDir(this.o.home), signal, onProgress });
  }

  /**
   * Trains one model as (part of) a job: live progress, epochs and power, recorded as a run.
   * `load` gives the dataset; `params` are recorded with the run beside the configuration.
   */
  private async runTraining(
    job: Job,
    load: (signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<LoadedDataset>,
    config: {
      depth: number;
      epochs: number;
      seed: number;
      augment?: boolean;
      batchSize?: number;
      learningRate?: number;
      valFraction?: number;
      batchNorm?: boolean;
    },
    opts: {
      params?: Record<string, unknown>;
      label?: string;
      runDir?: string;
      /** The experiment the run belongs to (the demo's; a resumed run's); none: its own. */
      experimentId?: number;
      /** The recorded training (result and energy), for callers that go on with it. */
      onRecorded?: (r: RecordedTraining) => void;
    } = {},
  ): Promise<Partial<JobInfo>> {
    const info = job.info;
    const signal = job.controller.signal;
    const onProgress = (p: Progress): void => {
      info.progress = { stage: `Loading dataset: ${p.stage}`, fraction: p.fraction };
      this.event(job);
    };
    info.progress = { stage: 'Loading dataset', fraction: null };
    this.event(job);
    const data = await load(signal, onProgress);
    signal.throwIfAborted();
    info.label =
      opts.label ??
      `${info.kind === 'demo' ? 'Demo: ' : ''}ResNet-${config.depth} on ${data.info.name} (${data.info.trainCount} images), ${config.epochs} epoch${config.epochs === 1 ? '' : 's'}`;
    const store = this.o.store();
    const settings = effectiveSettings(store);
    const engine = this.o.engine();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const runDir =
      opts.runDir ??
      path.join(runsDir(this.o.home), `${data.info.id}-r${config.depth}-s${config.seed}-${stamp}`);
    info.progress = {
      stage:
        settings.idleSeconds > 0
          ? `Measuring idle power for ${settings.idleSeconds} s`
          : 'Starting the engines',
      fraction: 0,
    };
    this.event(job);

    let recorder: RunRecorder | null = null;
    // Live power for the page: the meter's own samples, averaged over each half second.
    const sampler = setInterval(() => {
      const p = recorder?.livePower();
      if (!p) return;
      const sample: PowerSample = { ...p, t: Math.round(p.t * 10) / 10 };
      info.power.push(sample);
      if (info.power.length > MAX_POWER_SAMPLES) info.power.splice(0, info.power.length - MAX_POWER_SAMPLES);
      this.event(job, { type: 'power', sample });
    }, 500);
    sampler.unref();
    try {
      const rec = await recordTrainingRun({
        store,
        settings,
        signal,
        experimentId: opts.experimentId,
        label: info.label,
        runDir,
        params: {
          ...(info.kind === 'demo' ? { demo: true } : {}),
          ...opts.params,
          dataset: data.info.id,
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
      opts.onRecorded?.(rec);
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

  /** The wizard's faulty demo model (and a clean one, option 1's better model). */
  startFaultyDemo(p: FaultyDemoParams = {}): JobInfo {
    this.busyTraining();
    const cfg = {
      ...FAULTY_DEMO_DEFAULTS,
      ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)),
    };
    return this.start('faulty', `Faulty demo model: ResNet-${cfg.depth} on embedded shapes`, async (job) => {
      const signal = job.controller.signal;
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const base = path.join(wizardDir(this.o.home), `demo-${stamp}`);
      const demo = await makeFaultyDemo(cfg, {
        loadData: (spec) =>
          this.loadSpec(spec, signal, (pr) => {
            job.info.progress = { stage: `Loading dataset: ${pr.stage}`, fraction: pr.fraction };
            this.event(job);
          }),
        trainModel: async (name, data, config) => {
          job.info.epochs = [];
          const r = await this.runTraining(job, async () => data, config, {
            params: { wizard_demo: name },
            label: `Faulty demo: the ${name} model (${name === 'faulty' ? '1' : '2'}/${cfg.better ? 2 : 1}), ResNet-${config.depth} on ${data.info.name}`,
            runDir: path.join(base, name),
          });
          if (r.status !== 'finished' || !r.result?.modelDir)
            throw new UserError('Training was cancelled.', 'Make the demo model again.', 'cancelled');
          return r.result.modelDir;
        },
      });
      const f = demo.fault;
      job.info.label = `Faulty demo model: ${Math.round(f.fraction * 100)}% of ${f.victimName} labelled ${f.faultyName} (ResNet-${cfg.depth})`;
      return {
        result: {
          modelDir: demo.faultyDir,
          datasetId: demo.data.info.id,
          ...(demo.betterDir ? { betterDir: demo.betterDir } : {}),
          fault: f,
        },
      };
    });
  }

  /** The chosen repair options, each measured; the result is the comparison (Table 6). */
  startWizard(p: WizardParams): JobInfo {
    this.busyTraining();
    const label = `Fix-it wizard: options ${p.options.join(', ')}`;
    return this.start('wizard', label, async (job) => {
      const ctx = this.analysis(job);
      const { dir, data } = await modelAndData(ctx, p.modelDir, p.dataset);
      const names = data.info.classNames;
      for (const c of [p.faulty, p.victim])
        if (c >= names.length)
          throw new UserError(
            `Class ${c} is not a class of the model (0..${names.length - 1}).`,
            'Pick the faulty and victim classes among the model’s classes.',
            'usage',
          );
      job.info.label = `Fix-it wizard: ${names[p.victim]} called ${names[p.faulty]} (options ${p.options.join(', ')})`;
      const store = this.o.store();
      const settings = effectiveSettings(store);
      const engine = this.o.engine();
      if (settings.idleSeconds > 0)
        ctx.progress({ stage: `Measuring idle power for ${settings.idleSeconds} s`, fraction: 0 });
      const idle = await idlePowers(settings);
      // Progress: one step per line the wizard reports (fault, decompositions, trainings, options).
      const pair = p.options.includes(2) || p.options.includes(4);
      const better = p.options.includes(1) && (p.betterModel || p.betterEpochs);
      const steps = 2 + (pair ? 2 : 0) + (better ? (p.betterModel ? 1 : 2) : 0) + p.options.length;
      let done = 0;
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const outcome = await runWizard(
        {
          model: dir,
          data,
          faulty: p.faulty,
          victim: p.victim,
          options: p.options,
          better: p.betterModel ?? null,
          trainBetter: !p.betterModel && p.betterEpochs ? { epochs: p.betterEpochs } : null,
          decompose: { perClass: p.perClass },
          pairTrain: { depth: p.pairDepth, epochs: p.pairEpochs, batchSize: DEMO_DEFAULTS.batch },
          seed: p.seed,
        },
        {
          store,
          settings,
          idle,
          workDir: path.join(wizardDir(this.o.home), `run-${stamp}`),
          workers: engine.workers,
          backend: engine.backend,
          signal: job.controller.signal,
          onInfo: (line) => {
            done++;
            ctx.progress({
              stage: line.replace(/…$/, '').slice(0, 200),
              fraction: Math.min(0.95, done / steps),
            });
          },
          onTrainEvent: (what: string, e: TrainEvent) => {
            if (e.type !== 'batch') return;
            job.info.progress = {
              stage: job.info.progress?.stage ?? `Training the ${what} model`,
              fraction: job.info.progress?.fraction ?? null,
              detail: `${what} model: epoch ${e.epoch}, batch ${e.batch}/${e.batches}, loss ${e.loss.toFixed(3)}`,
            };
            this.event(job);
          },
        },
      );
      this.wizardRuns.set(job.info.id, outcome);
      for (const old of [...this.wizardRuns.keys()].slice(0, -KEPT_WIZARD_RUNS)) this.wizardRuns.delete(old);
      return { result: { modelDir: dir, datasetId: data.info.id, wizard: wizardView(outcome.result) } };
    });
  }

  /** Saves one option of a finished wizard job under <home>/repaired/<name>. */
  async saveRepair(p: SaveRepairParams): Promise<RepairedSummary> {
    const outcome = this.wizardRuns.get(p.jobId);
    if (!outcome)
      throw new UserError(
        this.jobs.get(p.jobId)?.info.kind === 'wizard'
          ? 'That wizard run did not finish, so it has nothing to save.'
          : 'That wizard run is no longer available: the app keeps the last few runs until it closes.',
        'Run the wizard again, then save the option you want.',
        'not-found',
      );
    return repairedSummary(await saveWizardOption(outcome, p.option, repairedDir(this.o.home), p.name));
  }

  downloadDataset(name: DownloadableDataset): JobInfo {
    const known = KNOWN_DOWNLOADS[name];
    return this.start('download', `Download ${known.title}`, async (job) => {
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
    const size = s.size ?? 32;
    const part = (p: ImportPart): PartSpec =>
      p.kind === 'folder' ? { kind: 'folder', path: p.path, size } : { kind: p.kind, path: p.path };
    // Added sources: their classes follow the main one's, as one combined dataset.
    const extra = (s.extra ?? []).map((p) => ({ kind: p.kind, path: path.resolve(p.path) }));
    const spec: DatasetSpec = extra.length ? combineSpecs(part(s), extra.map(part), size) : part(s);
    const label = extra.length
      ? `Import ${[s, ...extra].map((p) => `${p.kind} from ${p.path}`).join(' + ')} as one dataset`
      : `Import ${s.kind} from ${s.path}`;
    return this.start('import', label, async (job) => {
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

/** The demo's Table 1 for the page. */
function demoTable1(t: DemoTable1): Table1View {
  return table1View(t.modelDir, t.datasetId, t.value.table, t.value.dirs);
}

/** Which job a run found interrupted belonged to, from its kind and parameters. */
function interruptedKind(kind: string, params: unknown): JobKind {
  const p = (params ?? {}) as { demo?: boolean; wizard?: boolean; wizard_demo?: string };
  if (p.wizard_demo) return 'faulty';
  if (p.wizard) return 'wizard';
  if (kind === 'decompose') return 'decompose';
  if (kind === 'reuse' || kind === 'replace') return 'scenario';
  return p.demo ? 'demo' : 'train';
}

function describe(e: unknown): string {
  if (e instanceof Error && e.name === 'UserError') return `${e.message} ${(e as UserError).hint}`.trim();
  return e instanceof Error ? e.message : String(e);
}

export type { JobStatus };
