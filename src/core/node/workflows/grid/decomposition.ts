// A grid's one-time decomposition of each model: measured once, its modules kept with the
// model, so a resumed grid (or another grid on the same model) loads them instead.
import { decompose, type ModuleSet } from '../../decompose/decompose.ts';
import { loadModuleSet, saveModuleSet } from '../../decompose/files.ts';
import type { ModelPlan } from '../../graph/plan.ts';
import { openInference } from '../../inference/index.ts';
import { measured } from '../../measure/measured.ts';
import { costBetween, ZERO_COST, type Cost } from '../costs.ts';
import { quietRuns, type DecomposedModel, type GridRun } from './grid-run.ts';
import type { GridModel } from './types.ts';

/** Opens model `i` of the grid and decomposes it, or loads the modules a finished step kept. */
export async function decomposedModel(
  g: Omit<GridRun, 'opened'>,
  i: number,
  m: GridModel,
  modelDir: string,
  plan: ModelPlan,
): Promise<DecomposedModel> {
  const { spec, ctx, gridId, done } = g;
  const engine = await openInference(modelDir, { engine: spec.inference });
  const key = `decompose:${i}`;
  const prior = done.get(key)?.row as { dir: string; cost: Cost } | undefined;
  let set: ModuleSet | null = null;
  let cost = ZERO_COST;
  if (prior) {
    try {
      set = await loadModuleSet(prior.dir, { plan });
      cost = prior.cost;
    } catch {
      set = null;
    }
  }
  if (!set) {
    ctx.onInfo?.(`decomposing ${m.dir} (${spec.approach}, ${spec.decompose.perClass} images per class)…`);
    const r = await measured(
      quietRuns(ctx),
      {
        kind: 'decompose',
        params: { model: m.dir, approach: spec.approach, ...spec.decompose, grid: gridId },
        outcome: ({ dir }) => ({ result: { modules_dir: dir } }),
      },
      async () => {
        const [built] = await decompose(engine, plan, m.data.train, {
          approaches: [spec.approach],
          ...spec.decompose,
          seed: spec.seed,
          classNames: m.data.info.classNames,
          signal: ctx.signal,
        });
        return { set: built!, dir: await saveModuleSet(modelDir, built!) };
      },
    );
    set = r.value.set;
    cost = costBetween(null, r.energy.energy);
    ctx.store.grids.putRow(gridId, key, 'decompose', { dir: r.value.dir, cost }, r.runId);
  }
  return { model: m, plan, engine, set, decomposition: cost };
}
