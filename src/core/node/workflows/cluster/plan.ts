// A grid's plan: the grid written as tasks for a cluster, and nothing run. Phase one
// decomposes each model (one task each); phase two has one task per baseline with the
// scenarios that share it, so a scenario's CO2e ratio (its baseline over its reuse) is always
// measured on one machine. The plan names the models by path and SHA-256 (a task refuses a
// model changed since), the site profile the tasks' energy is figured with (PUE, carbon
// intensity), where baselines train and where tasks publish their shards. One schema reads it
// back (PLAN), in every task and in the merge.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { IDLE_SECONDS, INTENSITY, PUE } from '../../../common/bounds.ts';
import { UserError } from '../../../common/errors.ts';
import { GRID_PARAMS, type GridParams } from '../../../common/reuse.ts';
import { parseJsonWith, PATH, v } from '../../../common/schema.ts';
import { ATTRIBUTION, type Settings } from '../../../common/settings.ts';
import { writeFileAtomic } from '../../fs/atomic.ts';
import { readRegularText, TEXT_MAX } from '../../fs/read.ts';
import { MODEL_JSON, WEIGHTS_BIN } from '../../models/io.ts';
import { gridIdOf, imagesKey, scenariosFor, type GridModel, type GridSpec } from '../grid.ts';

export const PLAN_FORMAT = 'decomposer-grid-plan';

const INDEX = v.pipe(v.number(), v.integer(), v.minValue(0));

const TASK = v.variant('phase', [
  v.strictObject({ index: INDEX, phase: v.literal(1), model: INDEX }),
  v.strictObject({
    index: INDEX,
    phase: v.literal(2),
    /** The baseline's classes (the scenario images' key) and the scenarios sharing it. */
    baseline: v.string(),
    scenarios: v.pipe(v.array(v.string()), v.minLength(1)),
  }),
]);

export const PLAN = v.strictObject({
  format: v.literal(PLAN_FORMAT),
  version: v.literal(1),
  created_at: v.string(),
  grid: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, 'must be a grid id')),
  kind: v.picklist(['reuse', 'replace']),
  /** Every parameter of the grid, defaults resolved: the same spec on every node. */
  params: GRID_PARAMS,
  models: v.pipe(
    v.array(
      v.strictObject({
        dir: PATH,
        sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'must be a SHA-256')),
        /** The dataset as given (null: the model's own). */
        dataset: v.nullable(v.string()),
      }),
    ),
    v.minLength(1),
    v.maxLength(2),
  ),
  /** The site's profile: every task's energy is figured with it, whichever node runs it. */
  site: v.strictObject({ pue: PUE.schema, intensity: INTENSITY.schema }),
  measure: v.strictObject({ idleSeconds: IDLE_SECONDS.schema, attribution: ATTRIBUTION }),
  /** Where baselines train (shared by every node), where tasks publish shards, where to run. */
  work_dir: PATH,
  shards: PATH,
  cwd: PATH,
  /** How a node runs decomposer (a shared checkout's node and bin/decomposer.js). */
  command: v.pipe(v.array(v.string()), v.minLength(1)),
  tasks: v.pipe(v.array(TASK), v.minLength(1)),
});

export type Plan = v.InferOutput<typeof PLAN>;
export type PlanTask = Plan['tasks'][number];

/** A model folder's SHA-256: its graph and its weights, in that order. */
export async function modelSha256(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of [MODEL_JSON, WEIGHTS_BIN]) {
    const data = await fsp.readFile(path.join(dir, f)).catch(() => null);
    if (data) h.update(`${f}\0${data.length}\0`).update(data);
  }
  return h.digest('hex');
}

/** The grid's parameters with every default resolved, so each node builds the same spec. */
export function paramsOf(spec: GridSpec): GridParams {
  return {
    kind: spec.kind,
    scopes: spec.scopes,
    seed: spec.seed,
    pick: spec.pick,
    pairs: spec.pairs,
    ...(spec.replaceClasses ? { replaceClasses: spec.replaceClasses } : {}),
    approach: spec.approach,
    perClass: spec.decompose.perClass,
    point: spec.decompose.point,
    delta: spec.decompose.delta,
    rule: spec.decompose.rule,
    baselineEpochs: spec.baseline.epochs,
    baselinePatience: spec.baseline.patience,
    baselineDepth: spec.baseline.depth,
    batchSize: spec.baseline.batchSize,
    inference: spec.inference,
  };
}

export interface PlanInput {
  spec: GridSpec;
  models: (GridModel & { dataset: string | undefined })[];
  settings: Settings;
  workDir: string;
  shards: string;
  command: string[];
}

/** The grid's plan: its id, its models hashed, and its tasks in two phases. */
export async function makePlan(p: PlanInput): Promise<Plan> {
  const grid = await gridIdOf(p.spec, p.models);
  const byBaseline = new Map<string, string[]>();
  for (const s of scenariosFor(p.spec, p.models)) {
    const k = imagesKey(s);
    byBaseline.set(k, [...(byBaseline.get(k) ?? []), s.key]);
  }
  const tasks: PlanTask[] = p.models.map((_, i) => ({ index: i, phase: 1, model: i }));
  for (const [baseline, scenarios] of byBaseline)
    tasks.push({ index: tasks.length, phase: 2, baseline, scenarios });
  return {
    format: PLAN_FORMAT,
    version: 1,
    created_at: new Date().toISOString(),
    grid,
    kind: p.spec.kind,
    params: paramsOf(p.spec),
    models: await Promise.all(
      p.models.map(async (m) => ({
        dir: path.resolve(m.dir),
        sha256: await modelSha256(m.dir),
        dataset: m.dataset ?? null,
      })),
    ),
    site: { pue: p.settings.pue, intensity: p.settings.intensity },
    measure: { idleSeconds: p.settings.idleSeconds, attribution: p.settings.attribution },
    work_dir: path.resolve(p.workDir),
    shards: path.resolve(p.shards),
    cwd: process.cwd(),
    command: p.command,
    tasks,
  };
}

/** Where a plan's shards go by default: next to it, PLAN-shards/. */
export const defaultShards = (planFile: string) =>
  path.join(path.dirname(path.resolve(planFile)), `${path.basename(planFile, '.json')}-shards`);

export async function writePlan(file: string, plan: Plan): Promise<void> {
  await writeFileAtomic(path.resolve(file), JSON.stringify(plan, null, 2) + '\n');
}

/** Reads a plan back, checked with PLAN: a field broken is named with its rule. */
export async function readPlan(file: string): Promise<Plan> {
  let text: string;
  try {
    text = await readRegularText(path.resolve(file), { maxBytes: TEXT_MAX });
  } catch (e) {
    throw new UserError(
      `Cannot read the plan ${file} (${(e as Error).message}).`,
      'Write one with decomposer experiment reuse|replace … --plan FILE.',
      'bad-plan',
    );
  }
  const plan = parseJsonWith(
    PLAN,
    text,
    `The plan ${file}`,
    'Write it again with decomposer experiment reuse|replace … --plan FILE.',
    'bad-plan',
  );
  plan.tasks.forEach((t, i) => {
    if (t.index !== i)
      throw new UserError(
        `The plan ${file} is out of order: task ${i} says it is task ${t.index}.`,
        'Write it again with decomposer experiment reuse|replace … --plan FILE.',
        'bad-plan',
      );
  });
  return plan;
}

/** The task at `index`, or a refusal naming the plan's range. */
export function planTask(plan: Plan, index: number, file: string): PlanTask {
  const t = plan.tasks[index];
  if (!t)
    throw new UserError(
      `The plan ${file} has tasks 0 to ${plan.tasks.length - 1}; there is no task ${index}.`,
      'Give --index within that range (or run it as a Slurm array / Indexed Job of that size).',
      'usage',
    );
  return t;
}

/** How many tasks each phase has (phase one first, from index 0). */
export const phases = (plan: Plan) => ({
  one: plan.tasks.filter((t) => t.phase === 1).length,
  two: plan.tasks.filter((t) => t.phase === 2).length,
});
