// Decomposition (Table 1) and reuse/replace scenario jobs: find the model's dataset, run the
// core, record the run with its energy, and shape the result for the page.
import type { Job, JobManager } from './jobs.ts';
import path from 'node:path';
import type {
  BackendName,
  DecomposeParams,
  JobOf,
  ScenarioParams,
  ScenarioView,
  Table1View,
} from '../../common/api.ts';
import type { LoadedDataset, Progress } from '../../common/dataset.ts';
import type { ModelPlan } from '../graph/plan.ts';
import {
  architectureLabel,
  baselineArchitecture,
  type BaselineArchitecture,
  type ModelMeta,
} from '../models/io.ts';
import { UserError } from '../../common/errors.ts';
import { runCustomScenario } from '../workflows/custom-scenario.ts';
import type { GridModel } from '../workflows/grid.ts';
import { idlePowers, type TrainingProgress } from '../measure/measured.ts';
import { openModelData } from '../workflows/model-data.ts';
import { recordedTable1 } from '../workflows/decomposition.ts';
import { effectiveSettings } from '../store/settings.ts';
import type { Store } from '../store/store.ts';
import { scenarioView, table1View } from '../views.ts';
import { innerTraining } from './training-jobs.ts';

export function analysisContext(runner: JobManager, job: Job): AnalysisContext {
  return {
    home: runner.o.home,
    store: runner.o.store(),
    engine: runner.o.engine(),
    signal: job.controller.signal,
    progress: runner.progressOf(job),
    onRunId: (id) => {
      job.info.runId = id;
      runner.status(job);
    },
    setLabel: (label) => {
      job.info.label = label;
    },
    onTraining: innerTraining(runner, job),
  };
}

/** Decomposition (Table 1) of one model: its module sets are saved next to it. */
export function startDecomposition(runner: JobManager, p: DecomposeParams): JobOf<'decompose'> {
  const label = `Decompose ${path.basename(path.dirname(p.modelDir))} (${p.approaches.join(', ')})`;
  return runner.start('decompose', label, async (job) => {
    const table1 = await runDecomposition(analysisContext(runner, job), p);
    return { result: { modelDir: table1.modelDir, datasetId: table1.datasetId, table1 } };
  });
}

/** One reuse or replace scenario with its train-from-scratch baseline. */
export function startScenario(runner: JobManager, p: ScenarioParams): JobOf<'scenario'> {
  runner.busyTraining();
  const label = `${p.kind === 'reuse' ? 'Reuse' : 'Replace'} scenario (baseline ${p.baselineEpochs} epoch${p.baselineEpochs === 1 ? '' : 's'})`;
  return runner.start('scenario', label, async (job) => {
    const scenario = await runScenario(analysisContext(runner, job), p);
    job.info.label = `${p.kind === 'reuse' ? 'Reuse' : 'Replace'}: ${scenario.classes.join(' + ').slice(0, 160)}`;
    return { result: { scenario } };
  });
}

export interface AnalysisContext {
  home: string;
  store: Store;
  engine: { backend: BackendName | null; workers: number | undefined };
  signal: AbortSignal;
  progress: (p: Progress) => void;
  onRunId?: (id: number) => void;
  /** Renames the job once the model is known. */
  setLabel?: (label: string) => void;
  /** The progress of a training the job runs (a scenario's baseline). */
  onTraining?: TrainingProgress;
}

/** Opens a model folder and its dataset (the one it was trained on unless given). */
export function modelAndData(
  ctx: Pick<AnalysisContext, 'home' | 'signal' | 'progress'>,
  modelDir: string,
  datasetId: string | null | undefined,
): Promise<{ dir: string; data: LoadedDataset; meta: ModelMeta | null; plan: ModelPlan }> {
  return openModelData(modelDir, datasetId, {
    home: ctx.home,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress({ stage: `Loading dataset: ${p.stage}`, fraction: p.fraction }),
  });
}

export async function runDecomposition(ctx: AnalysisContext, p: DecomposeParams): Promise<Table1View> {
  const { dir, data, meta, plan } = await modelAndData(ctx, p.modelDir, p.dataset);
  ctx.signal.throwIfAborted();
  const label = `Decompose ${architectureLabel(meta)} on ${data.info.name} (${p.approaches.join(', ')})`;
  ctx.setLabel?.(label);
  const settings = effectiveSettings(ctx.store.settings);
  ctx.progress({
    stage: settings.idleSeconds > 0 ? `Measuring idle power for ${settings.idleSeconds} s` : 'Starting',
    fraction: 0,
  });
  const run = await recordedTable1(
    { store: ctx.store, settings, signal: ctx.signal },
    { dir, plan, data },
    {
      label,
      approaches: [...p.approaches],
      perClass: p.perClass,
      point: p.point,
      delta: p.delta,
      rule: 'prose',
      seed: p.seed,
      onRunId: ctx.onRunId,
      onProgress: (fraction, stage) => ctx.progress({ stage, fraction: Math.min(0.95, fraction * 0.9) }),
    },
  );
  return table1View(dir, data.info.id, run.value.table, run.value.dirs);
}

export async function runScenario(ctx: AnalysisContext, p: ScenarioParams): Promise<ScenarioView> {
  const models: (GridModel & { baseline: BaselineArchitecture })[] = [];
  for (const dir of p.models) {
    const m = await modelAndData(ctx, dir, null);
    models.push({ ...m, baseline: baselineArchitecture(m.meta, m.dir) });
  }
  const sizes = new Set(models.map((m) => m.data.info.imageSize));
  if (sizes.size > 1)
    throw new UserError(
      `The models take different input sizes (${[...sizes].map((s) => `${s}×${s}`).join(' and ')}).`,
      'Modules whose models take different input sizes cannot be composed: pick models of one input size.',
      'incompatible-modules',
    );
  const settings = effectiveSettings(ctx.store.settings);
  if (settings.idleSeconds > 0)
    ctx.progress({ stage: `Measuring idle power for ${settings.idleSeconds} s`, fraction: 0 });
  const idle = await idlePowers(settings);
  ctx.progress({ stage: 'Decomposing the models (once; kept with the models)', fraction: 0.1 });
  const row = await runCustomScenario(
    {
      kind: p.kind,
      ...(p.classes ? { classes: p.classes } : {}),
      ...(p.replaced !== undefined ? { replaced: p.replaced } : {}),
      ...(p.replacement ? { replacement: p.replacement } : {}),
    },
    models,
    { approach: p.approach, perClass: p.perClass, baselineEpochs: p.baselineEpochs, seed: p.seed },
    {
      store: ctx.store,
      settings,
      idle,
      workDir: path.join(ctx.home, 'experiments'),
      workers: ctx.engine.workers,
      backend: ctx.engine.backend,
      signal: ctx.signal,
      onInfo: (line) => {
        const stage = line.replace(/…$/, '');
        const fraction = /^baseline/.test(line) ? 0.6 : /composing/.test(line) ? 0.4 : 0.2;
        ctx.progress({ stage: stage.slice(0, 200), fraction });
      },
      onTraining: ctx.onTraining,
    },
  );
  return scenarioView(row);
}
