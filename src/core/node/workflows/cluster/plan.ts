// A plan: work written as tasks for a cluster, and nothing run. A grid's plan (below) or a
// list of trainings' (one task each, so the models a grid needs train as an array too).
// A grid's plan: the grid written as tasks. Phase one
// decomposes each model (one task each); phase two has one task per baseline with the
// scenarios that share it, so a scenario's CO2e ratio (its baseline over its reuse) is always
// measured on one machine. The plan names the models by path and SHA-256 (a task refuses a
// model changed since), the site profile the tasks' energy is figured with (PUE, carbon
// intensity), where baselines train and where tasks publish their shards. One schema reads it
// back (PLAN), in every task and in the merge.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  BATCH_SIZE,
  DEPTH,
  EPOCHS,
  IDLE_SECONDS,
  IMAGE_SIDE,
  INTENSITY,
  LEARNING_RATE,
  PUE,
  SEED,
  VAL_FRACTION,
} from '../../../common/bounds.ts';
import { GREY_FITS } from '../../../common/dataset.ts';
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

/** What every plan has: its id, the site profile, where shards go, how nodes run decomposer. */
const PLAN_BASE = {
  format: v.literal(PLAN_FORMAT),
  version: v.literal(1),
  created_at: v.string(),
  /** The grid's id (a grid's plan), or the trainings' hash: names the shards' tasks. */
  id: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, 'must be a plan id (16 hex digits)')),
  /** The site's profile: every task's energy is figured with it, whichever node runs it. */
  site: v.strictObject({ pue: PUE.schema, intensity: INTENSITY.schema }),
  measure: v.strictObject({ idleSeconds: IDLE_SECONDS.schema, attribution: ATTRIBUTION }),
  /** Where tasks publish shards, and the folder tasks run in. */
  shards: PATH,
  cwd: PATH,
  /** How a node runs decomposer (a shared checkout's node and bin/decomposer.js). */
  command: v.pipe(v.array(v.string()), v.minLength(1)),
};

const GRID_PLAN = v.strictObject({
  ...PLAN_BASE,
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
  /** Where baselines train (shared by every node). */
  work_dir: PATH,
  tasks: v.pipe(v.array(TASK), v.minLength(1)),
});

/** One training of a list (decomposer train … --plan): its dataset and settings, all given. */
export const PLANNED_TRAINING = v.strictObject({
  dataset: v.pipe(v.string(), v.minLength(1)),
  size: IMAGE_SIDE.schema,
  fit: v.nullable(v.picklist(GREY_FITS)),
  depth: DEPTH.schema,
  epochs: EPOCHS.schema,
  batchSize: BATCH_SIZE.schema,
  seed: SEED.schema,
  learningRate: LEARNING_RATE.schema,
  valFraction: VAL_FRACTION.schema,
  augment: v.boolean(),
  batchNorm: v.boolean(),
  /** The folder its run folder goes in (null: the task's data folder's runs/), named as train names it. */
  parent: v.nullable(PATH),
});

export type PlannedTraining = v.InferOutput<typeof PLANNED_TRAINING>;

const TRAININGS_PLAN = v.strictObject({
  ...PLAN_BASE,
  kind: v.literal('trainings'),
  tasks: v.pipe(
    v.array(v.strictObject({ index: INDEX, phase: v.literal(1), training: PLANNED_TRAINING })),
    v.minLength(1),
  ),
});

/** A plan: a grid's (reuse, replace) or a list of trainings', told apart by `kind`. */
export const PLAN = v.variant('kind', [GRID_PLAN, TRAININGS_PLAN], 'must be reuse, replace or trainings');

export type Plan = v.InferOutput<typeof PLAN>;
export type GridPlan = v.InferOutput<typeof GRID_PLAN>;
export type TrainingsPlan = v.InferOutput<typeof TRAININGS_PLAN>;
type GridPlanTask = GridPlan['tasks'][number];

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
    // An imported model's baselines train its own architecture: no depth to give.
    ...(spec.baseline.architecture ? {} : { baselineDepth: spec.baseline.depth }),
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
export async function makePlan(p: PlanInput): Promise<GridPlan> {
  const grid = await gridIdOf(p.spec, p.models, p.settings.attribution);
  const byBaseline = new Map<string, string[]>();
  for (const s of scenariosFor(p.spec, p.models)) {
    const k = imagesKey(s);
    byBaseline.set(k, [...(byBaseline.get(k) ?? []), s.key]);
  }
  const tasks: GridPlanTask[] = p.models.map((_, i) => ({ index: i, phase: 1, model: i }));
  for (const [baseline, scenarios] of byBaseline)
    tasks.push({ index: tasks.length, phase: 2, baseline, scenarios });
  return {
    format: PLAN_FORMAT,
    version: 1,
    created_at: new Date().toISOString(),
    id: grid,
    kind: p.spec.kind,
    params: paramsOf(p.spec),
    models: await Promise.all(
      p.models.map(async (m) => ({
        dir: path.resolve(m.dir),
        sha256: await modelSha256(m.dir),
        dataset: m.dataset ?? null,
      })),
    ),
    ...siteOf(p.settings),
    work_dir: path.resolve(p.workDir),
    shards: path.resolve(p.shards),
    cwd: process.cwd(),
    command: p.command,
    tasks,
  };
}

const siteOf = (s: Settings) => ({
  site: { pue: s.pue, intensity: s.intensity },
  measure: { idleSeconds: s.idleSeconds, attribution: s.attribution },
});

/** A list of trainings as a plan of one task each (all phase one: they depend on nothing). */
export function makeTrainingsPlan(p: {
  trainings: PlannedTraining[];
  settings: Settings;
  shards: string;
  command: string[];
}): TrainingsPlan {
  const id = createHash('sha256').update(JSON.stringify(p.trainings)).digest('hex').slice(0, 16);
  return {
    format: PLAN_FORMAT,
    version: 1,
    created_at: new Date().toISOString(),
    id,
    kind: 'trainings',
    ...siteOf(p.settings),
    shards: path.resolve(p.shards),
    cwd: process.cwd(),
    command: p.command,
    tasks: p.trainings.map((training, index) => ({ index, phase: 1, training })),
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
export function planTask<P extends Plan>(plan: P, index: number, file: string): P['tasks'][number] {
  const t = plan.tasks[index] as P['tasks'][number] | undefined;
  if (!t)
    throw new UserError(
      `The plan ${file} has tasks 0 to ${plan.tasks.length - 1}; there is no task ${index}.`,
      'Give --index within that range (or run it as a Slurm array / Indexed Job of that size).',
      'usage',
    );
  return t;
}

/** How many tasks each phase has (phase one first, from index 0). */
export const phases = (plan: Plan) => {
  const ts: { phase: number }[] = plan.tasks;
  return { one: ts.filter((t) => t.phase === 1).length, two: ts.filter((t) => t.phase === 2).length };
};
