// Running the paper's reuse and replace grids (Tables 2-5, Figure 6): decompose each model
// once, compose each scenario's modules on its test images, train the same architecture
// from scratch on exactly the scenario's classes as the baseline, and measure time and
// energy of every piece. Each finished piece is a row in the store, so an interrupted grid
// resumes where it stopped. The pieces live in grid/: planning (plan.ts), the one-time
// decompositions, each scenario and its baseline; this file runs them in order, all in one
// process (runGrid) or one task of a grid's plan at a time (runGridTask, for a cluster).
import type { Attribution } from '../../common/energy.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import { readModelDir } from '../models/io.ts';
import type { Scenario } from '../reuse/scenario.ts';
import { baselineFrom } from './grid/baseline.ts';
import { decomposedModel } from './grid/decomposition.ts';
import type { DecomposedModel, GridRun } from './grid/grid-run.ts';
import { checkComposable, gridId, imagesKey, scenariosFor } from './grid/plan.ts';
import { runScenario } from './grid/scenario.ts';
import type { GridContext, GridModel, GridResult, GridSpec, ScenarioRow } from './grid/types.ts';

// The grid's public face: what the workflows, the app and the CLI use of it.
export type {
  BaselineResult,
  GridContext,
  GridModel,
  GridResult,
  GridSpec,
  ScenarioRow,
} from './grid/types.ts';
export { baselineFrom, imagesKey, scenariosFor };

/** A grid opened in the store: its id, models read and planned, and the pieces done. */
interface OpenedGrid {
  id: string;
  plans: ModelPlan[];
  dirs: string[];
  ctx: GridContext & { experimentId: number };
  done: GridRun['done'];
}

/** The grid's id from its spec, models and attribution (what a plan records, and a task checks). */
export async function gridIdOf(
  spec: GridSpec,
  models: GridModel[],
  attribution: Attribution,
): Promise<string> {
  checkComposable(models);
  const reads = await Promise.all(models.map((m) => readModelDir(m.dir)));
  return gridId(
    spec,
    models,
    reads.map((r) => planModel(r.artifacts)),
    attribution,
  );
}

async function openGrid(spec: GridSpec, models: GridModel[], ctx: GridContext): Promise<OpenedGrid> {
  checkComposable(models);
  const reads = await Promise.all(models.map((m) => readModelDir(m.dir)));
  const plans = reads.map((r) => planModel(r.artifacts));
  const id = gridId(spec, models, plans, ctx.settings.attribution);
  const experimentId =
    ctx.experimentId ??
    ctx.store.grids.experimentOf(id) ??
    ctx.store.experiments.start({
      kind: ctx.scenarios ? 'scenario' : 'grid',
      label: `${spec.kind} ${ctx.scenarios ? 'scenario' : 'grid'} on ${models.map((m) => m.data.info.name).join(' and ')}`,
      params: { grid: id, ...spec, models: models.map((m) => m.dir) },
    });
  const done = ctx.store.grids.open(
    id,
    spec.kind,
    { ...spec, models: models.map((m) => m.dir) },
    experimentId,
  );
  return { id, plans, dirs: reads.map((r) => r.dir), ctx: { ...ctx, experimentId }, done };
}

/** Runs (or takes from the store) each scenario in turn, recording every finished row. */
async function scenarioRows(g: GridRun, scenarios: Scenario[]): Promise<ScenarioRow[]> {
  const { ctx, done, gridId: id } = g;
  const rows: ScenarioRow[] = [];
  for (const s of scenarios) {
    ctx.signal?.throwIfAborted();
    const prior = done.get(`scenario:${s.key}`);
    if (prior) {
      rows.push(prior.row as ScenarioRow);
      ctx.onRow?.(prior.row as ScenarioRow);
      continue;
    }
    const row = await runScenario(g, s);
    ctx.store.grids.putRow(id, `scenario:${s.key}`, s.kind, row, row.run_ids.scenario);
    rows.push(row);
    ctx.onRow?.(row);
  }
  return rows;
}

/** Runs `work` on the opened grid, marking it finished, or failed or cancelled when it throws. */
async function inGrid<T>(o: OpenedGrid, spec: GridSpec, work: (g: GridRun) => Promise<T>): Promise<T> {
  const opened: DecomposedModel[] = [];
  const g: GridRun = { spec, opened, ctx: o.ctx, gridId: o.id, done: o.done };
  try {
    const out = await work(g);
    o.ctx.store.grids.setStatus(o.id, 'finished');
    return out;
  } catch (e) {
    o.ctx.store.grids.setStatus(o.id, o.ctx.signal?.aborted ? 'cancelled' : 'failed');
    throw e;
  } finally {
    await Promise.all(opened.map((m) => m.engine.close()));
  }
}

/** Decomposes every model (or loads the modules a finished step kept), in order. */
async function decomposeAll(g: GridRun, o: OpenedGrid, models: GridModel[]): Promise<void> {
  for (let i = 0; i < models.length; i++) {
    g.ctx.signal?.throwIfAborted();
    g.opened.push(await decomposedModel(g, i, models[i]!, o.dirs[i]!, o.plans[i]!));
  }
}

export async function runGrid(spec: GridSpec, models: GridModel[], ctx: GridContext): Promise<GridResult> {
  const o = await openGrid(spec, models, ctx);
  const resumed = [...o.done.keys()].filter((k) => k.startsWith('scenario:')).length;
  if (resumed) ctx.onInfo?.(`resuming grid ${o.id}: ${resumed} scenario(s) already finished`);
  return inGrid(o, spec, async (g) => {
    // 1. One-time decomposition of each model (kept with the model; measured).
    await decomposeAll(g, o, models);
    // 2. Every scenario: compose (measured), then its baseline (trained once per class set).
    const rows = await scenarioRows(g, ctx.scenarios ?? scenariosFor(spec, models));
    return { id: o.id, rows, resumed };
  });
}

/** One task of a grid's plan: a model's decomposition (phase 1), or one baseline's scenarios (phase 2). */
export type GridTask =
  | { phase: 1; model: number }
  | {
      phase: 2;
      /** The scenarios sharing one baseline, by key. */
      scenarios: string[];
      /** Each model's decomposition as phase 1 recorded it (its modules folder and cost). */
      decompositions: { dir: string; cost: unknown; runId: number | null }[];
    };

/**
 * Runs one task of a grid into the context's store (a shard): the same pieces runGrid runs,
 * recorded the same way, so the shards of every task merged give the grid's rows.
 */
export async function runGridTask(
  spec: GridSpec,
  models: GridModel[],
  ctx: GridContext,
  task: GridTask,
): Promise<ScenarioRow[]> {
  const o = await openGrid(spec, models, ctx);
  return inGrid(o, spec, async (g) => {
    if (task.phase === 1) {
      const i = task.model;
      g.opened.push(await decomposedModel(g, i, models[i]!, o.dirs[i]!, o.plans[i]!));
      return [];
    }
    // Phase 1's decompositions are loaded, not run again: they live in its shards, so they
    // are known here without being recorded twice.
    task.decompositions.forEach((d, i) => {
      if (!o.done.has(`decompose:${i}`)) o.done.set(`decompose:${i}`, { row: d, runId: d.runId });
    });
    await decomposeAll(g, o, models);
    const want = new Set(task.scenarios);
    return scenarioRows(
      g,
      scenariosFor(spec, models).filter((s) => want.has(s.key)),
    );
  });
}
