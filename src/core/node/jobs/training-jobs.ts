// Training jobs: a training from scratch, resuming one from its run folder, and the demo;
// each training recorded as a run with live progress, epochs and power.
import type { Job, JobManager, JobOutcome } from './jobs.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type {
  DemoParams,
  EpochMetrics,
  DemoJobResult,
  JobOf,
  PowerSample,
  Table1View,
  TrainParams,
} from '../../common/api.ts';
import type { DatasetSpec, LoadedDataset, Progress } from '../../common/dataset.ts';
import { DEMO_DEFAULTS } from '../demo.ts';
import { runPurpose } from '../../common/api.ts';
import { UserError } from '../../common/errors.ts';
import { loadDataset } from '../data/index.ts';
import { cacheDir, runsDir } from '../paths.ts';
import { type RunRecorder, type TrainingProgress } from '../measure/measured.ts';
import { effectiveSettings } from '../store/settings.ts';
import { train, type TrainEvent } from '../train/trainer.ts';
import { scenarioView, table1View } from '../views.ts';
import { loadById } from '../data/catalogue.ts';
import { loadModelDataset } from '../workflows/model-data.ts';
import { recordTrainingRun, type RecordedTraining } from '../measure/training.ts';
import { runDemo, type DemoSettings, type DemoTable1 } from '../workflows/demo.ts';

const MAX_POWER_SAMPLES = 600;
/** The statuses of a training that can be resumed from its run folder. */
const RESUMABLE: readonly string[] = ['cancelled', 'interrupted', 'failed'];

export function startTraining(runner: JobManager, p: TrainParams): JobOf<'train'> {
  runner.busyTraining();
  const label = `ResNet-${p.depth} on ${p.dataset}, ${p.epochs} epoch${p.epochs === 1 ? '' : 's'}`;
  return runner.start('train', label, (job) =>
    runTraining(
      runner,
      job,
      (signal, onProgress) => loadById(runner.o.home, p.dataset, p.perClass ?? null, signal, onProgress),
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
export function resumeTraining(runner: JobManager, runId: number): JobOf<'train' | 'demo'> {
  runner.busyTraining();
  const store = runner.o.store();
  const run = store.runs.get(runId);
  if (!run) throw new UserError(`There is no run ${runId}.`, 'Choose a run from the list.', 'no-run');
  const p = (run.params ?? {}) as Record<string, unknown>;
  const no = (message: string, hint = 'Start a new training instead.', code = 'not-resumable') =>
    new UserError(message, hint, code);
  if (run.kind !== 'train') throw no(`Run ${runId} is not a training, so it cannot be resumed.`);
  const purpose = runPurpose({ ...run, experimentKind: run.experiment_kind });
  if (!purpose.resumable)
    throw no(
      `Run ${runId} is part of ${purpose.partOf ?? 'another feature'}, so it cannot be resumed on its own.`,
      purpose.job === 'faulty' ? 'Make the demo model again from the wizard.' : 'Run that feature again.',
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
  const laterId = store.runs.continuedBy(runId);
  const later = laterId === null ? null : store.runs.get(laterId);
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
  const work = (job: Job) =>
    runTraining(
      runner,
      job,
      (signal, onProgress) => loadModelDataset(runner.o.home, dataset, signal, onProgress),
      config,
      // The resumed run belongs to the experiment of the run it resumes.
      { runDir, label, params: { resumed_from_run: runId }, experimentId: run.experiment_id ?? undefined },
    );
  // A demo's training resumed on its own: the demo's Table 1 and scenarios are not part of it.
  return p.demo
    ? runner.start('demo', label, async (job) => demoOutcome(await work(job), null, null))
    : runner.start('train', label, work);
}

export function startDemo(runner: JobManager, p: DemoParams = {}): JobOf<'demo'> {
  runner.busyTraining();
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
  const label = `Demo: ResNet-${demo.depth} on ${p.dataset ?? 'embedded shapes'}, ${demo.epochs} epochs`;
  return runner.start('demo', label, async (job) => {
    const store = runner.o.store();
    const engine = runner.o.engine();
    const progress = (stage: string, fraction: number | null) => {
      job.info.progress = { stage: stage.slice(0, 200), fraction };
      runner.event(job);
    };
    // The training job's own outcome (status, model, accuracy), which the demo's result extends.
    let trained: JobOutcome<'train'> | null = null;
    const d = await runDemo(demo, {
      store,
      settings: effectiveSettings(store.settings),
      signal: job.controller.signal,
      cacheDir: cacheDir(runner.o.home),
      workers: engine.workers,
      backend: engine.backend,
      onProgress: (pr) => progress(pr.stage, pr.fraction),
      onInfo: (line) => progress(line.replace(/…$/, ''), null),
      // The scenario models and baselines (the demo model's own training shows itself).
      onTraining: innerTraining(runner, job),
      ...(p.dataset !== undefined
        ? {
            loadData: () =>
              loadModelDataset(runner.o.home, p.dataset!, job.controller.signal, (pr) =>
                progress(`Loading dataset: ${pr.stage}`, pr.fraction),
              ),
          }
        : {}),
      train: async (data, config, experimentId) => {
        let recorded: RecordedTraining | undefined;
        trained = await runTraining(runner, job, async () => data, config, {
          onRecorded: (r) => (recorded = r),
          experimentId,
        });
        // runTraining throws unless the training was recorded.
        return recorded!;
      },
      onTable1: (t) => {
        // Table 1 shows while the reuse and replace scenarios run with their baselines.
        if (!trained) return;
        job.info.result = demoOutcome(trained, demoTable1(t), null).result;
        runner.status(job);
      },
    });
    const scenarios = d.scenarios ? [...d.scenarios.reuse, ...d.scenarios.replace].map(scenarioView) : null;
    return demoOutcome(
      trainedOutcome(d.training, d.data.info.id),
      d.table1 ? demoTable1(d.table1) : null,
      scenarios,
    );
  });
}

export function loadSpec(
  runner: JobManager,
  spec: DatasetSpec,
  signal: AbortSignal,
  onProgress: (p: Progress) => void,
) {
  return loadDataset(spec, { cacheDir: cacheDir(runner.o.home), signal, onProgress });
}

/** Live power for the page: the meter's own samples, averaged over each half second. */
function showLivePower(runner: JobManager, job: Job, recorder: () => RunRecorder | null): NodeJS.Timeout {
  const info = job.info;
  const sampler = setInterval(() => {
    const p = recorder()?.livePower();
    if (!p) return;
    const sample: PowerSample = { ...p, t: Math.round(p.t * 10) / 10 };
    info.power.push(sample);
    if (info.power.length > MAX_POWER_SAMPLES) info.power.splice(0, info.power.length - MAX_POWER_SAMPLES);
    runner.event(job, { type: 'power', sample });
  }, 500);
  sampler.unref();
  return sampler;
}

/** A training's events as the job's progress, epochs and ETA. */
function showTraining(runner: JobManager, job: Job, epochs: number): (e: TrainEvent) => void {
  const info = job.info;
  return (e) => {
    if (e.type === 'batch') {
      const fraction = (e.epoch - 1 + e.batch / e.batches) / epochs;
      info.progress = {
        stage: `Training epoch ${e.epoch}/${epochs}`,
        fraction: Math.min(1, fraction),
        detail: `batch ${e.batch}/${e.batches}, loss ${e.loss.toFixed(3)}, ${Math.round(e.imagesPerSecond)} img/s`,
      };
      info.etaSeconds = e.etaSeconds;
      runner.event(job, e);
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
      runner.event(job, { type: 'epoch', metrics });
    } else if (e.type === 'evaluate') {
      info.progress = { stage: 'Evaluating on the test set', fraction: info.progress?.fraction ?? null };
      runner.event(job);
    } else if (e.type === 'start') {
      info.progress = { stage: `Training on ${e.backend}`, fraction: 0, detail: e.backendDetail };
      runner.event(job);
    }
  };
}

/**
 * A training inside a job's work (a demo's scenario models and baselines, the wizard's
 * models): which one and how far it is, as the detail of the job's progress line.
 */
export function innerTraining(runner: JobManager, job: Job): TrainingProgress {
  return (e, what) => {
    if (e.type !== 'batch') return;
    job.info.progress = {
      stage: job.info.progress?.stage ?? `Training ${what}`,
      fraction: job.info.progress?.fraction ?? null,
      detail: `${what}: epoch ${e.epoch}, batch ${e.batch}/${e.batches}, loss ${e.loss.toFixed(3)}`,
    };
    runner.event(job);
  };
}

/**
 * Trains one model as (part of) a job: live progress, epochs and power, recorded as a run.
 * `load` gives the dataset; `params` are recorded with the run beside the configuration.
 */
export async function runTraining(
  runner: JobManager,
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
    /** The scenario of its experiment the training serves. */
    scenario?: string;
    /** The recorded training (result and energy), for callers that go on with it. */
    onRecorded?: (r: RecordedTraining) => void;
  } = {},
): Promise<JobOutcome<'train'>> {
  const info = job.info;
  const signal = job.controller.signal;
  const onProgress = (p: Progress): void => {
    info.progress = { stage: `Loading dataset: ${p.stage}`, fraction: p.fraction };
    runner.event(job);
  };
  info.progress = { stage: 'Loading dataset', fraction: null };
  runner.event(job);
  const data = await load(signal, onProgress);
  signal.throwIfAborted();
  info.label =
    opts.label ??
    `${info.kind === 'demo' ? 'Demo: ' : ''}ResNet-${config.depth} on ${data.info.name} (${data.info.trainCount} images), ${config.epochs} epoch${config.epochs === 1 ? '' : 's'}`;
  const store = runner.o.store();
  const settings = effectiveSettings(store.settings);
  const engine = runner.o.engine();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir =
    opts.runDir ??
    path.join(runsDir(runner.o.home), `${data.info.id}-r${config.depth}-s${config.seed}-${stamp}`);
  info.progress = {
    stage:
      settings.idleSeconds > 0
        ? `Measuring idle power for ${settings.idleSeconds} s`
        : 'Starting the engines',
    fraction: 0,
  };
  runner.event(job);

  let recorder: RunRecorder | null = null;
  const sampler = showLivePower(runner, job, () => recorder);
  try {
    const rec = await recordTrainingRun({
      store,
      settings,
      signal,
      experimentId: opts.experimentId,
      scenario: opts.scenario,
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
        runner.status(job);
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
      onTraining: showTraining(runner, job, config.epochs),
    });
    opts.onRecorded?.(rec);
    return trainedOutcome(rec, data.info.id);
  } finally {
    clearInterval(sampler);
  }
}

/** A training job's outcome: cancelled or finished, with its model, accuracy and dataset. */
function trainedOutcome(rec: RecordedTraining, datasetId: string): JobOutcome<'train'> {
  const r = rec.result;
  return {
    status: r.status === 'cancelled' ? 'cancelled' : 'finished',
    result: { modelDir: r.modelDir ?? null, top1: r.top1, top5: r.top5, datasetId },
  };
}

/** The demo's outcome: its training's, with Table 1 and the scenarios once they ran. */
function demoOutcome(
  trained: JobOutcome<'train'>,
  table1: Table1View | null,
  scenarios: DemoJobResult['scenarios'],
): JobOutcome<'demo'> {
  return { ...trained, result: { ...trained.result, table1, scenarios } };
}

/** The demo's Table 1 for the page. */
function demoTable1(t: DemoTable1): Table1View {
  return table1View(t.modelDir, t.datasetId, t.value.table, t.value.dirs);
}
