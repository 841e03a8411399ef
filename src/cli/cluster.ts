// What the cluster commands share: a grid's models loaded as a plan names them (each node
// reads the same folders and datasets), writing a grid's plan (experiment … --plan) or a list
// of trainings' (train … --plan), and running a training of such a list as a task.
import path from 'node:path';
import type { GridParams } from '../core/common/reuse.ts';
import type { MeasureContext } from '../core/node/measure/measured.ts';
import { gridSpec } from '../core/node/workflows/grid-spec.ts';
import type { GridModel } from '../core/node/workflows/grid.ts';
import {
  defaultShards,
  makePlan,
  makeTrainingsPlan,
  phases,
  writePlan,
  type GridPlan,
  type PlannedTraining,
  type TrainingsPlan,
} from '../core/node/workflows/cluster/plan.ts';
import { asPlanTask } from '../core/node/workflows/cluster/task.ts';
import type { BackendName } from '../core/common/api.ts';
import { UserError } from '../core/common/errors.ts';
import type { Settings } from '../core/common/settings.ts';
import { baselineArchitecture, type BaselineArchitecture } from '../core/node/models/io.ts';
import { runsDir } from '../core/node/paths.ts';
import { runFolderIn, trainRecorded } from './training.ts';
import { loadSpecWithProgress, modelDataset, openModel, parseDatasetOption } from './models.ts';
import { EXIT, print, printJson } from './output.ts';
import type { GridTaskRow } from '../core/node/store/grids.ts';

export type LoadedGridModel = GridModel & { baseline: BaselineArchitecture };

/** A grid's models opened and their datasets loaded: as given on the command line, or as a plan names them. */
export async function loadGridModels(
  given: { dir: string | undefined; dataset: string | undefined }[],
  inference: 'auto' | 'onnxruntime' | 'tfjs',
  home: string,
): Promise<LoadedGridModel[]> {
  const out: LoadedGridModel[] = [];
  for (const g of given) {
    const m = await openModel(g.dir, inference);
    try {
      out.push({
        dir: m.dir,
        data: await modelDataset(g.dataset, m, home),
        baseline: baselineArchitecture(m.meta, m.dir),
      });
    } finally {
      await m.engine.close();
    }
  }
  return out;
}

/** The models a plan names, loaded as its tasks see them. */
export const planModels = (plan: GridPlan, home: string) =>
  loadGridModels(
    plan.models.map((m) => ({ dir: m.dir, dataset: m.dataset ?? undefined })),
    plan.params.inference ?? 'auto',
    home,
  );

/** How a node runs this decomposer: this Node and this bin/decomposer.js, by absolute path. */
export const selfCommand = () => [process.execPath, path.resolve(process.argv[1] ?? 'decomposer')];

/** Writes a grid's plan (experiment reuse|replace … --plan FILE) and prints its task count; runs nothing. */
export async function writeGridPlan(
  file: string,
  o: {
    params: GridParams;
    models: (LoadedGridModel & { dataset: string | undefined })[];
    workDir: string;
    json: boolean;
  },
  ctx: MeasureContext,
): Promise<number> {
  const spec = gridSpec(o.params, { settings: ctx.settings, models: o.models });
  const plan = await makePlan({
    spec,
    models: o.models,
    settings: ctx.settings,
    workDir: o.workDir,
    shards: defaultShards(file),
    command: selfCommand(),
  });
  await writePlan(file, plan);
  const p = phases(plan);
  const out = path.resolve(file);
  if (o.json)
    printJson({
      plan: out,
      grid: plan.id,
      tasks: plan.tasks.length,
      phase1: p.one,
      phase2: p.two,
      shards: plan.shards,
    });
  else {
    print(
      `${plan.tasks.length} tasks: ${p.one} decomposition(s) (phase one: tasks 0-${p.one - 1}), then ${p.two} baseline(s) with their scenarios (phase two: tasks ${p.one}-${plan.tasks.length - 1})`,
    );
    print(`plan of grid ${plan.id} written to ${out}; shards go to ${plan.shards}`);
    print(`run a task: decomposer task ${out} --index I   (or: decomposer submit slurm|kubernetes ${out})`);
  }
  return EXIT.ok;
}

/** Runs a training of a list's plan into ctx.store (a shard) and publishes it. */
export async function runTrainingTask(
  ctx: MeasureContext,
  t: { plan: TrainingsPlan; planFile: string; index: number; publish: string },
  eng: { home: string; workers: number | undefined; backend: BackendName | null },
) {
  const tr = t.plan.tasks[t.index]!.training;
  const data = await loadSpecWithProgress(
    parseDatasetOption(tr.dataset, tr.size, tr.seed, eng.home, tr.fit ?? undefined),
    eng.home,
  );
  const out = runFolderIn(tr.parent ?? runsDir(eng.home), data.info.id, tr.depth, tr.seed);
  const config = {
    depth: tr.depth,
    epochs: tr.epochs,
    batchSize: tr.batchSize,
    seed: tr.seed,
    learningRate: tr.learningRate,
    valFraction: tr.valFraction,
    augment: tr.augment,
    batchNorm: tr.batchNorm,
  };
  return asPlanTask({ ...t, store: ctx.store }, async () => {
    const r = await trainRecorded(ctx, { data, out, eng, config });
    if (r.result.status !== 'finished')
      throw new UserError('The training was cancelled.', 'Run the task again to resume it.', 'cancelled');
    return { out, runId: r.runId, top1: r.result.top1 };
  });
}

/** Writes a list of trainings as a plan (train … --plan FILE) and prints its task count; runs nothing. */
export async function writeTrainingsPlan(
  file: string,
  trainings: PlannedTraining[],
  settings: Settings,
  json: boolean,
): Promise<number> {
  const plan = makeTrainingsPlan({
    trainings,
    settings,
    shards: defaultShards(file),
    command: selfCommand(),
  });
  await writePlan(file, plan);
  const out = path.resolve(file);
  if (json) printJson({ plan: out, id: plan.id, tasks: plan.tasks.length, shards: plan.shards });
  else {
    print(`${plan.tasks.length} trainings, one task each (tasks 0-${plan.tasks.length - 1})`);
    print(`plan ${plan.id} written to ${out}; shards go to ${plan.shards}`);
    print(`run a task: decomposer task ${out} --index I   (or: decomposer submit slurm|kubernetes ${out})`);
  }
  return EXIT.ok;
}

/** Per plan (a grid's, or a list of trainings'): its tasks not finished in the store (missing or failed), and how to re-run them. */
export function leftToRun(tasks: GridTaskRow[]) {
  const grids = new Map<string, GridTaskRow[]>();
  for (const t of tasks) grids.set(t.grid_id, [...(grids.get(t.grid_id) ?? []), t]);
  return [...grids].map(([id, ts]) => {
    const n = Math.max(...ts.map((t) => t.tasks));
    const plan = ts[ts.length - 1]!.plan;
    const byIndex = new Map(ts.map((t) => [t.task_index, t]));
    const missing: number[] = [];
    const failed: { index: number; error: string | null; host: string }[] = [];
    for (let i = 0; i < n; i++) {
      const t = byIndex.get(i);
      if (!t) missing.push(i);
      else if (t.status !== 'finished') failed.push({ index: i, error: t.error, host: t.host });
    }
    const rerun = [...missing, ...failed.map((f) => f.index)].sort((a, b) => a - b);
    return {
      id,
      plan,
      tasks: n,
      finished: n - rerun.length,
      missing,
      failed,
      rerun: rerun.map((i) => `decomposer task ${plan} --index ${i}`),
    };
  });
}
