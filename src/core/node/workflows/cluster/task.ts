// One task of a grid's plan, run into its own store (a shard on the node's own disk) and
// published into the shared folder: phase one decomposes a model; phase two reads phase one's
// decompositions from its published shards and runs one baseline with the scenarios sharing
// it. The shard records which task it holds and how it ended (grid_tasks), and is published
// failed too, so the merge can list what is left to re-run.
import os from 'node:os';
import path from 'node:path';
import { describeError, UserError } from '../../../common/errors.ts';
import { schedulerFacts } from '../../energy/scheduler.ts';
import { publishShard, shardName, shardPiece } from '../../store/shard.ts';
import { gridIdOf, runGridTask, type GridContext, type GridModel, type GridTask } from '../grid.ts';
import { gridSpec } from '../grid-spec.ts';
import type { BaselineArchitecture } from '../../models/io.ts';
import type { Store } from '../../store/store.ts';
import { modelSha256, type GridPlan, type Plan } from './plan.ts';

/** The stable id of the experiment a plan's tasks record into, so their shards merge into one. */
export const planExperimentUid = (grid: string) => `grid:${grid}`;

/** Refuses to run a task on a model that changed since the plan was written. */
export async function checkPlanModels(plan: GridPlan, file: string): Promise<void> {
  for (const m of plan.models) {
    const now = await modelSha256(m.dir).catch(() => null);
    if (now !== m.sha256)
      throw new UserError(
        `The model ${m.dir} is not the one the plan ${file} was written for (its SHA-256 differs${now === null ? ': it cannot be read here' : ''}).`,
        'Every node must see the same model folder (a shared folder); after changing a model, write the plan again.',
        'plan-model-changed',
      );
  }
}

/** Phase one's decomposition of model `i` from its shard in `dir`, or null while it is not published. */
function decomposition(
  plan: GridPlan,
  dir: string,
  i: number,
): { row: unknown; runId: number | null } | null {
  const t = plan.tasks.find((x) => x.phase === 1 && x.model === i)!;
  try {
    return shardPiece(path.join(dir, shardName(t.index)), plan.id, `decompose:${i}`);
  } catch {
    return null; // not published yet, or unreadable: said by the caller
  }
}

/**
 * Phase one's decomposition of each model, read from the shards it published in `dir`; a task
 * started with its phase one (a Kubernetes Indexed Job runs every index at once) waits for
 * them up to `waitSeconds`, checking every few seconds.
 */
async function decompositions(
  plan: GridPlan,
  dir: string,
  waitSeconds: number,
  signal?: AbortSignal,
): Promise<Extract<GridTask, { phase: 2 }>['decompositions']> {
  const until = Date.now() + waitSeconds * 1000;
  return Promise.all(
    plan.models.map(async (_, i) => {
      let piece = decomposition(plan, dir, i);
      while (!piece && Date.now() < until) {
        await new Promise((r) => setTimeout(r, Math.min(3000, Math.max(0, until - Date.now()))));
        signal?.throwIfAborted();
        piece = decomposition(plan, dir, i);
      }
      if (!piece) {
        const t = plan.tasks.find((x) => x.phase === 1 && x.model === i)!;
        throw new UserError(
          `Phase one's task ${t.index} (decomposing ${plan.models[i]!.dir}) has not published its shard ${path.join(dir, shardName(t.index))}.`,
          `Run it first (decomposer task PLAN --index ${t.index}), or give --wait-phase-one SECONDS; under Slurm, the array waits for phase one.`,
          'plan-phase-one',
        );
      }
      const row = piece.row as { dir: string; cost: unknown };
      return { dir: row.dir, cost: row.cost, runId: piece.runId };
    }),
  );
}

export interface TaskRun {
  plan: GridPlan;
  planFile: string;
  index: number;
  models: (GridModel & { baseline: BaselineArchitecture })[];
  /** The shard's store and how its runs are measured (the plan's site profile in its settings). */
  ctx: Omit<GridContext, 'workDir'>;
  /** Where the shard is published (the shared folder). */
  publish: string;
  /** How long a phase-two task waits for phase one's shards, s (0: not at all). */
  waitPhaseOne?: number;
}

/**
 * Runs task `index` of a plan into `store` (a shard) with `work`, recording which task it holds
 * and how it ended, and publishes it into `publish`: finished, or failed (then rethrows), so
 * the merge can list it either way. Returns what `work` gave and the published file.
 */
export async function asPlanTask<T>(
  t: { store: Store; plan: Plan; planFile: string; index: number; publish: string },
  work: () => Promise<T>,
): Promise<{ value: T; published: string }> {
  const { store, plan, index } = t;
  const facts = schedulerFacts();
  store.grids.taskStarted({
    grid_id: plan.id,
    task_index: index,
    tasks: plan.tasks.length,
    phase: plan.tasks[index]!.phase,
    plan: path.resolve(t.planFile),
    host: os.hostname(),
    scheduler_json: facts ? JSON.stringify(facts) : null,
    started_at: new Date().toISOString(),
  });
  let value: T;
  try {
    value = await work();
  } catch (e) {
    store.grids.taskEnded(plan.id, index, 'failed', describeError(e));
    publishShard(store, t.publish, index);
    throw e;
  }
  store.grids.taskEnded(plan.id, index, 'finished', null);
  return { value, published: publishShard(store, t.publish, index) };
}

/** Runs a grid's task into ctx.store and publishes it; a task that fails is published failed, then throws. */
export async function runPlanTask(r: TaskRun): Promise<{ rows: number; published: string }> {
  const { plan, index, ctx } = r;
  const t = plan.tasks[index]!;
  const spec = gridSpec(plan.params, { settings: ctx.settings, models: r.models });
  if ((await gridIdOf(spec, r.models, ctx.settings.attribution)) !== plan.id)
    throw new UserError(
      `The models and datasets here do not make the grid the plan ${r.planFile} was written for (${plan.id}).`,
      'Run the tasks where they see the same models and datasets as the machine that wrote the plan.',
      'plan-grid-changed',
    );
  const store = ctx.store;
  const uid = planExperimentUid(plan.id);
  const experimentId =
    store.experiments.byUid(uid) ??
    store.experiments.start({
      kind: 'grid',
      label: `${spec.kind} grid on ${r.models.map((m) => m.data.info.name).join(' and ')}`,
      params: { grid: plan.id, ...spec, models: r.models.map((m) => m.dir) },
      uid,
    });
  const done = await asPlanTask({ ...r, store }, async () => {
    const task: GridTask =
      t.phase === 1
        ? { phase: 1, model: t.model }
        : {
            phase: 2,
            scenarios: t.scenarios,
            decompositions: await decompositions(plan, r.publish, r.waitPhaseOne ?? 0, ctx.signal),
          };
    return runGridTask(spec, r.models, { ...ctx, experimentId, workDir: plan.work_dir }, task);
  });
  return { rows: done.value.length, published: done.published };
}
