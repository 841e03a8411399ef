// Opening what a command works on, the same for every command: the --model folder (read,
// planned, an inference engine when it needs one), the dataset it is judged on, a dataset
// named on the command line with progress lines, the decomposition options, and a recorded run.
import type { ModelMeta } from '../core/node/models/io.ts';
import { preprocessingNote, readModelDir } from '../core/node/models/io.ts';
import type { DatasetSpec, GreyFit, GreyInput, LoadedDataset } from '../core/common/dataset.ts';
import { DELTA, SAMPLE_PER_CLASS, SEED, UNCONCERNED } from '../core/common/bounds.ts';
import {
  approachFromText,
  BLN_RULES,
  DECOMPOSE_APPROACHES,
  DECOMPOSE_POINTS,
} from '../core/common/decomposition.ts';
import { UserError } from '../core/common/errors.ts';
import { PATH, v } from '../core/common/schema.ts';
import { loadDataset } from '../core/node/data/index.ts';
import { DEFAULT_DELTA, DEFAULT_POINT, POINTS, type DecomposeOptions } from '../core/node/decompose/index.ts';
import { writeFileAtomic } from '../core/node/fs/atomic.ts';
import { openInference, type InferenceEngine } from '../core/node/inference/index.ts';
import { planModel, type ModelPlan } from '../core/node/graph/plan.ts';
import { measured, type Measured } from '../core/node/measure/measured.ts';
import { cacheDir } from '../core/node/paths.ts';
import type { RunKind } from '../core/node/store/run-rows.ts';
import { checkModelData, datasetForModel, type ModelForData } from '../core/node/workflows/model-data.ts';
import { parseCommandArgs, type Values } from './command.ts';
import { parseDatasetArg } from './datasets.ts';
import {
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  INFERENCE_ARG,
  listOf,
  withEngine,
  withMeasureContext,
  type StoreChoice,
} from './options.ts';
import { info, stageProgress } from './output.ts';

export const DECOMPOSE_OPTIONS = {
  model: { type: 'string', short: 'm' },
  dataset: { type: 'string', short: 'd' },
  'per-class': { type: 'string' },
  unconcerned: { type: 'string' },
  delta: { type: 'string' },
  rule: { type: 'string' },
  point: { type: 'string' },
  seed: { type: 'string' },
  inference: { type: 'string' },
  ...ENGINE_OPTIONS,
  ...ENERGY_OPTIONS,
} as const;

export const DECOMPOSE_USAGE = `  -m, --model DIR     the trained model's folder (model.json)
  -d, --dataset NAME  its dataset (shapes, textures, cifar10, ..., or a folder); default: the model's
  --per-class N       concerned training images per class (default 1000, the paper's)
  --unconcerned N     unconcerned images per module, spread over the other classes (default = per-class)
  --delta D           MC-BLN threshold (default ${DEFAULT_DELTA}); experiment decomposition takes a
                      list (--delta 0.5,0.1,0.05: one row per value)
  --rule R            MC-BLN rule: prose (default: remove nodes whose edges serve only the
                      unconcerned node: W[i,vuc] >= +delta and W[i,vc] < +delta) or algorithm2
                      (as printed: W[i,vuc] <= -delta and W[i,vc] >= +delta); experiment
                      decomposition takes both (--rule prose,algorithm2)
  --point P           where activity is observed: relu (default: ReLU inputs), conv (Conv2D
                      outputs, the paper's reading; costs more accuracy in ResNets, see README)
                      or conv-skip-add (conv, leaving the convolutions that feed an Add
                      unmasked); experiment decomposition also takes all (the three side by side)
  --seed N            sampling seed (default 1)
  --inference E       auto (default) | onnxruntime | tfjs
${ENERGY_USAGE}
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)
  --json              print one JSON object as the result`;

/** The decomposition's options: Table 1 (experiment decomposition) also takes lists and --point all. */
export const DECOMPOSE_ARGS = {
  model: v.optional(PATH),
  dataset: v.optional(v.string()),
  'per-class': v.optional(SAMPLE_PER_CLASS.text, 1000),
  unconcerned: v.optional(UNCONCERNED.text),
  delta: v.optional(listOf(DELTA.text), String(DEFAULT_DELTA)),
  rule: v.optional(listOf(v.picklist(BLN_RULES, `must be ${BLN_RULES.join(' or ')}`)), 'prose'),
  point: v.optional(
    v.picklist([...DECOMPOSE_POINTS, 'all'], `must be ${DECOMPOSE_POINTS.join(', ')} (or all, for Table 1)`),
    DEFAULT_POINT,
  ),
  seed: v.optional(SEED.text, 1),
  inference: INFERENCE_ARG,
};

/** An approach by its name or short name (mc, bln, bi). */
export const APPROACH_ARG = v.pipe(
  v.custom<string>(
    (x) => typeof x === 'string' && approachFromText(x) !== null,
    `must be one of ${DECOMPOSE_APPROACHES.join(', ')} (or mc, bln, bi)`,
  ),
  v.transform((x) => approachFromText(x)!),
);

type DecomposeInput = v.InferOutput<v.ObjectSchema<typeof DECOMPOSE_ARGS, undefined>>;

export type DecomposeSettings = Required<
  Pick<DecomposeOptions, 'perClass' | 'unconcerned' | 'delta' | 'rule' | 'point' | 'seed'>
> &
  Pick<DecomposeOptions, 'points' | 'variants'>;

/**
 * The decomposition settings of parsed options. Several rules or thresholds and --point all
 * are Table 1's (`table1`); anywhere else they are refused, naming the option.
 */
export function decomposeOf(o: DecomposeInput, cmd: string, table1: boolean): DecomposeSettings {
  const only = (flag: string, what: string, given: string) =>
    new UserError(
      `decomposer ${cmd}: --${flag}: ${what} are for Table 1 only (got "${given}").`,
      `Give one --rule, one --delta and one --point, or use decomposer experiment decomposition.`,
      'usage',
    );
  if (!table1 && (o.rule.length > 1 || o.delta.length > 1))
    throw only(
      o.rule.length > 1 ? 'rule' : 'delta',
      'several rules or thresholds',
      [...(o.rule.length > 1 ? o.rule : o.delta)].join(','),
    );
  if (!table1 && o.point === 'all') throw only('point', 'all points', 'all');
  const all = o.point === 'all';
  const variants = o.rule.flatMap((rule) => o.delta.map((delta) => ({ rule, delta })));
  return {
    perClass: o['per-class'],
    unconcerned: o.unconcerned ?? o['per-class'],
    delta: o.delta[0]!,
    rule: o.rule[0]!,
    point: o.point === 'all' ? DEFAULT_POINT : o.point,
    ...(all ? { points: [...POINTS] } : {}),
    ...(variants.length > 1 ? { variants } : {}),
    seed: o.seed,
  };
}

/** The decomposition settings of raw option values (what a command line gives), checked. */
export function decomposeSettings(values: Values, opts: { allPoints?: boolean } = {}): DecomposeSettings {
  const cmd = opts.allPoints ? 'experiment' : 'decompose';
  return parseCommandArgs(
    cmd,
    withEngine(DECOMPOSE_ARGS, (o) => ({ decompose: decomposeOf(o, cmd, Boolean(opts.allPoints)) })),
    values,
  ).decompose;
}

export interface OpenedModel {
  dir: string;
  meta: ModelMeta | null;
  plan: ModelPlan;
  engine: InferenceEngine;
}

/** The --model folder, read and planned (no engine opened). */
export async function readModel(dir: string | undefined): Promise<Omit<OpenedModel, 'engine'>> {
  if (!dir) throw new UserError('No model given.', 'Give the model folder with --model DIR.', 'usage');
  const read = await readModelDir(dir);
  const note = preprocessingNote(read.meta, read.dir);
  if (note) info(`note: ${note}`);
  return { dir: read.dir, meta: read.meta, plan: planModel(read.artifacts) };
}

export async function openModel(
  dir: string | undefined,
  inference: 'auto' | 'onnxruntime' | 'tfjs',
): Promise<OpenedModel> {
  const m = await readModel(dir);
  const engine = await openInference(m.dir, { engine: inference });
  return { ...m, engine };
}

/** The dataset a model is judged on: --dataset (read at the model's input size), else its own. */
export async function modelDataset(
  dataset: string | undefined,
  m: ModelForData & { meta: { grey?: GreyInput } | null },
  home: string,
): Promise<LoadedDataset> {
  if (dataset === undefined) return datasetForModel(m, null, { home });
  // Grey images are fed as the model was trained (padded or resized).
  const data = await loadDatasetWithProgress(dataset, m.plan.input.shape[0]!, 1, home, m.meta?.grey?.fit);
  for (const w of checkModelData(data, m)) info(`warning: ${w}`);
  return data;
}

/** Runs `work` as a recorded run (energy measured, stored) of the given kind. */
export function recordRun<T>(
  store: StoreChoice,
  run: { kind: RunKind; params: Record<string, unknown>; signal?: AbortSignal },
  work: () => Promise<T>,
  result: (t: T) => unknown,
): Promise<Measured<T>> {
  return withMeasureContext(store, run, (ctx) =>
    measured(
      ctx,
      { kind: run.kind, params: run.params, outcome: (value) => ({ result: result(value) }) },
      work,
    ),
  );
}

/** A dataset named on the command line, checked (names, paths found) before anything is read. */
export function parseDatasetOption(
  arg: string,
  size: number,
  seed: number,
  home: string,
  fit?: GreyFit,
): DatasetSpec {
  return parseDatasetArg(arg, size, seed, { home, fit });
}

/** Loads a dataset with progress lines on stderr and its warnings. */
export async function loadSpecWithProgress(spec: DatasetSpec, home: string): Promise<LoadedDataset> {
  const show = stageProgress();
  const data = await loadDataset(spec, {
    cacheDir: cacheDir(home),
    onProgress: (p) => show(p.fraction, p.stage),
  });
  for (const w of data.info.warnings ?? []) info(`warning: ${w}`);
  return data;
}

export async function loadDatasetWithProgress(
  arg: string,
  size: number,
  seed: number,
  home: string,
  fit?: GreyFit,
): Promise<LoadedDataset> {
  return loadSpecWithProgress(parseDatasetOption(arg, size, seed, home, fit), home);
}

/** Writes a JSON result next to the modules (atomically). */
export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
