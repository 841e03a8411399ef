// Running the paper's reuse and replace grids (Tables 2-5, Figure 6): decompose each model
// once, compose each scenario's modules on its test images, train the same architecture
// from scratch on exactly the scenario's classes as the baseline, and measure time and
// energy of every piece. Each finished piece is a row in the store, so an interrupted grid
// resumes where it stopped. The pieces live in grid/: planning (plan.ts), the one-time
// decompositions, each scenario and its baseline; this file runs them in order.
import { planModel } from '../graph/plan.ts';
import { readModelDir } from '../models/io.ts';
import { baselineFrom } from './grid/baseline.ts';
import { decomposedModel } from './grid/decomposition.ts';
import type { DecomposedModel } from './grid/grid-run.ts';
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
export { baselineFrom, imagesKey };

export async function runGrid(spec: GridSpec, models: GridModel[], ctx: GridContext): Promise<GridResult> {
  const info = ctx.onInfo ?? (() => undefined);
  checkComposable(models);
  const reads = await Promise.all(models.map((m) => readModelDir(m.dir)));
  const plans = reads.map((r) => planModel(r.artifacts));
  const id = gridId(spec, models, plans);
  const experimentId =
    ctx.experimentId ??
    ctx.store.grids.experimentOf(id) ??
    ctx.store.experiments.start({
      kind: ctx.scenarios ? 'scenario' : 'grid',
      label: `${spec.kind} ${ctx.scenarios ? 'scenario' : 'grid'} on ${models.map((m) => m.data.info.name).join(' and ')}`,
      params: { grid: id, ...spec, models: models.map((m) => m.dir) },
    });
  ctx = { ...ctx, experimentId };
  const done = ctx.store.grids.open(
    id,
    spec.kind,
    { ...spec, models: models.map((m) => m.dir) },
    experimentId,
  );
  const resumed = [...done.keys()].filter((k) => k.startsWith('scenario:')).length;
  if (resumed) info(`resuming grid ${id}: ${resumed} scenario(s) already finished`);

  const opened: DecomposedModel[] = [];
  const rows: ScenarioRow[] = [];
  const g = { spec, opened, ctx, gridId: id, done };
  try {
    // 1. One-time decomposition of each model (kept with the model; measured).
    for (let i = 0; i < models.length; i++) {
      ctx.signal?.throwIfAborted();
      opened.push(await decomposedModel(g, i, models[i]!, reads[i]!.dir, plans[i]!));
    }

    // 2. Every scenario: compose (measured), then its baseline (trained once per class set).
    for (const s of ctx.scenarios ?? scenariosFor(spec, models)) {
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
    ctx.store.grids.setStatus(id, 'finished');
    return { id, rows, resumed };
  } catch (e) {
    ctx.store.grids.setStatus(id, ctx.signal?.aborted ? 'cancelled' : 'failed');
    throw e;
  } finally {
    await Promise.all(opened.map((o) => o.engine.close()));
  }
}
