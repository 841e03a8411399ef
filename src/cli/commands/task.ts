// decomposer task: one task of a grid's plan, run into its own SQLite file on the node's own
// disk, then published into the shared folder (VACUUM INTO, atomic rename). Run again after
// a kill or a requeue, it resumes: the shard keeps what finished, and a baseline's run folder
// (shared) its checkpoints.
import os from 'node:os';
import path from 'node:path';
import type { Command } from '../command.ts';
import { planModels, runTrainingTask } from '../cluster.ts';
import { ENGINE_OPTIONS, ENGINE_USAGE, withEngine } from '../options.ts';
import { EXIT, info, interruptSignal, print, printJson } from '../output.ts';
import { trainReporter } from '../training.ts';
import { TASK_INDEX, WAIT_SECONDS } from '../../core/common/bounds.ts';
import { UserError } from '../../core/common/errors.ts';
import { PATH, v } from '../../core/common/schema.ts';
import { idlePowers } from '../../core/node/measure/measured.ts';
import { effectiveSettings } from '../../core/node/store/settings.ts';
import { Store } from '../../core/node/store/store.ts';
import { planTask, readPlan, type GridPlan } from '../../core/node/workflows/cluster/plan.ts';
import { checkPlanModels, runPlanTask } from '../../core/node/workflows/cluster/task.ts';

const TASK_ARGS = withEngine(
  {
    index: v.optional(TASK_INDEX.text),
    SLURM_ARRAY_TASK_ID: v.optional(TASK_INDEX.text),
    JOB_COMPLETION_INDEX: v.optional(TASK_INDEX.text),
    db: v.optional(PATH),
    publish: v.optional(PATH),
    'wait-phase-one': v.optional(WAIT_SECONDS.text, 0),
  },
  (o) => ({
    waitPhaseOne: o['wait-phase-one'],
    index: o.index ?? o.SLURM_ARRAY_TASK_ID ?? o.JOB_COMPLETION_INDEX,
    shard: o.db,
    publish: o.publish,
  }),
);

/** A grid plan's models, checked against their SHA-256 and read as its tasks see them. */
async function gridModels(plan: GridPlan, file: string, home: string) {
  await checkPlanModels(plan, file);
  return planModels(plan, home);
}

export const taskCommand: Command<v.InferOutput<typeof TASK_ARGS>> = {
  name: 'task',
  summary:
    'run one task of a plan (a grid, or a list of trainings) into its own database (a shard), for a cluster',
  usage: `Usage: decomposer task PLAN.json [--index I] [--db SHARD.db] [--publish DIR]

Runs task I of the plan. A grid's plan (decomposer experiment reuse|replace … --plan):
phase one's tasks decompose a model, phase two's train one baseline with the scenarios
sharing it (they read phase one's published shards). A list of trainings' (decomposer
train … --plan): each task trains one model. The task records into its own SQLite file on
this node's disk, then publishes it into the shared folder as DIR/task-I.db (VACUUM INTO
and an atomic rename: no process writes a database on a network filesystem). Run it again
after a kill or a requeue and it resumes. The model folders must be the plan's (SHA-256).

  --index I           the task (default: SLURM_ARRAY_TASK_ID, then JOB_COMPLETION_INDEX)
  --db FILE           the task's own database (default: in the node's temporary folder,
                      TMPDIR, named after the grid and the task)
  --publish DIR       where the shard is published (default: the plan's shards folder)
  --wait-phase-one S  a phase-two task started with phase one (a Kubernetes Indexed Job)
                      waits up to S seconds (${WAIT_SECONDS.range}) for its shards (default 0)
${ENGINE_USAGE}`,
  options: {
    ...ENGINE_OPTIONS,
    index: { type: 'string' },
    db: { type: 'string' },
    publish: { type: 'string' },
    'wait-phase-one': { type: 'string' },
  },
  args: TASK_ARGS,
  async run(o, positionals) {
    const file = positionals[0];
    if (!file || positionals.length > 1)
      throw new UserError(
        positionals.length > 1
          ? `decomposer task takes one plan (got ${positionals.length}).`
          : 'No plan given.',
        'Use: decomposer task PLAN.json --index I (write the plan with decomposer experiment reuse|replace … --plan PLAN.json).',
        'usage',
      );
    if (o.index === undefined)
      throw new UserError(
        'No task index: give --index I (or run under a Slurm array or a Kubernetes Indexed Job).',
        'Use: decomposer task PLAN.json --index I.',
        'usage',
      );
    const index = o.index;
    const plan = await readPlan(file);
    const t = planTask(plan, index, file);
    // A grid's models are checked and read before anything is recorded.
    const models = plan.kind === 'trainings' ? null : await gridModels(plan, file, o.engine.home);
    const shardFile = path.resolve(
      o.shard ?? path.join(os.tmpdir(), `decomposer-${plan.id}-task-${index}.db`),
    );
    const publish = path.resolve(o.publish ?? plan.shards);
    info(`task ${index} of ${plan.tasks.length} (phase ${t.phase}) of plan ${plan.id}, into ${shardFile}`);
    const store = Store.open(shardFile);
    try {
      // The plan's site profile and measuring, whichever node runs the task.
      const settings = effectiveSettings(store.settings, { ...plan.site, ...plan.measure });
      const ctx = {
        store,
        settings,
        idle: await idlePowers(settings, info),
        signal: interruptSignal(),
        onInfo: info,
        onTraining: trainReporter(),
      };
      const where = { planFile: file, index, publish };
      if (plan.kind === 'trainings') {
        const r = await runTrainingTask(ctx, { ...where, plan }, o.engine);
        if (o.json) printJson({ plan: plan.id, task: index, ...r.value, shard: r.published });
        else print(`task ${index} done: trained into ${r.value.out}; shard published to ${r.published}`);
        return EXIT.ok;
      }
      const r = await runPlanTask({
        ...where,
        plan,
        models: models!,
        waitPhaseOne: o.waitPhaseOne,
        ctx: {
          ...ctx,
          workers: o.engine.workers,
          backend: o.engine.backend,
          onRow: (row) => info(`  done: ${row.key}`),
        },
      });
      if (o.json) printJson({ plan: plan.id, task: index, phase: t.phase, rows: r.rows, shard: r.published });
      else print(`task ${index} done: ${r.rows} scenario row(s); shard published to ${r.published}`);
    } finally {
      store.close();
    }
    return EXIT.ok;
  },
};
