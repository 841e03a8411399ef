// Opening what a command works on, the same for every command: the --model folder (read,
// planned, an inference engine when it needs one), the dataset it is judged on, a dataset
// named on the command line with progress lines, the decomposition options, and a recorded run.
import type { ModelMeta } from '../core/node/models/io.ts';
import { readModelDir } from '../core/node/models/io.ts';
import type { DatasetSpec, GreyFit, GreyInput, LoadedDataset } from '../core/common/dataset.ts';
import { DELTA, SAMPLE_PER_CLASS, SEED, UNCONCERNED, parseBounded } from '../core/common/bounds.ts';
import { UserError } from '../core/common/errors.ts';
import { loadDataset } from '../core/node/data/index.ts';
import {
  BLN_RULES,
  DEFAULT_DELTA,
  DEFAULT_POINT,
  POINTS,
  type BlnRule,
  type DecomposeOptions,
  type DecompositionPoint,
} from '../core/node/decompose/index.ts';
import { writeFileAtomic } from '../core/node/fs/atomic.ts';
import { openInference, type InferenceEngine } from '../core/node/inference/index.ts';
import { planModel, type ModelPlan } from '../core/node/graph/plan.ts';
import { measured, type Measured } from '../core/node/measure/measured.ts';
import { cacheDir } from '../core/node/paths.ts';
import type { RunKind } from '../core/node/store/run-rows.ts';
import { checkModelData, datasetForModel, type ModelForData } from '../core/node/workflows/model-data.ts';
import type { Values } from './command.ts';
import { parseDatasetArg } from './datasets.ts';
import {
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  engineSettings,
  idleSecondsOption,
  inferenceOption,
  numberOption,
  withMeasureContext,
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

export function decomposeSettings(
  v: Values,
  opts: { allPoints?: boolean } = {},
): Required<Pick<DecomposeOptions, 'perClass' | 'unconcerned' | 'delta' | 'rule' | 'point' | 'seed'>> &
  Pick<DecomposeOptions, 'points' | 'variants'> {
  // Checked with the rest before a model or dataset is read (openModel reads --inference).
  inferenceOption(v);
  idleSecondsOption(v);
  // Table 1 (opts.allPoints) also takes lists: --point all, --rule prose,algorithm2 and
  // --delta 0.5,0.1 (every rule at every δ).
  const list = (key: string): string[] | undefined =>
    v[key] === undefined
      ? undefined
      : String(v[key])
          .split(',')
          .map((x) => x.trim());
  const rules = (list('rule') ?? ['prose']) as BlnRule[];
  for (const r of rules)
    if (!BLN_RULES.includes(r))
      throw new UserError(`Unknown rule "${r}".`, `Use one of: ${BLN_RULES.join(', ')}.`, 'usage');
  const deltas = (list('delta') ?? [String(DEFAULT_DELTA)]).map((d) => {
    const x = parseBounded(d, DELTA);
    if (x === null)
      throw new UserError(
        `--delta ${d} is not a threshold: δ must be ${DELTA.rule}.`,
        'Give a number, e.g. --delta 0.5.',
        'usage',
      );
    return x;
  });
  if ((rules.length > 1 || deltas.length > 1) && !opts.allPoints)
    throw new UserError(
      'Several rules or thresholds are for Table 1 only.',
      'Give one --rule and one --delta, or use decomposer experiment decomposition.',
      'usage',
    );
  const asked = (v.point as string | undefined) ?? DEFAULT_POINT;
  const all = asked === 'all' && opts.allPoints;
  if (!all && !(POINTS as readonly string[]).includes(asked))
    throw new UserError(
      `Unknown point "${asked}".`,
      `Use ${POINTS.join(', ')}${opts.allPoints ? ' or all' : ''}.`,
      'usage',
    );
  const point = all ? DEFAULT_POINT : (asked as DecompositionPoint);
  const perClass = numberOption(v, 'per-class', SAMPLE_PER_CLASS, 1000);
  const variants = rules.flatMap((rule) => deltas.map((delta) => ({ rule, delta })));
  return {
    perClass,
    unconcerned: numberOption(v, 'unconcerned', UNCONCERNED, perClass),
    delta: deltas[0]!,
    rule: rules[0]!,
    point,
    ...(all ? { points: [...POINTS] } : {}),
    ...(variants.length > 1 ? { variants } : {}),
    seed: numberOption(v, 'seed', SEED, 1),
  };
}

export interface OpenedModel {
  dir: string;
  meta: ModelMeta | null;
  plan: ModelPlan;
  engine: InferenceEngine;
}

/** The --model folder, read and planned (no engine opened). */
export async function readModel(v: Values): Promise<Omit<OpenedModel, 'engine'>> {
  const dir = v.model as string | undefined;
  if (!dir) throw new UserError('No model given.', 'Give the model folder with --model DIR.', 'usage');
  const read = await readModelDir(dir);
  return { dir: read.dir, meta: read.meta, plan: planModel(read.artifacts) };
}

export async function openModel(v: Values): Promise<OpenedModel> {
  const m = await readModel(v);
  const engine = await openInference(m.dir, { engine: inferenceOption(v) });
  return { ...m, engine };
}

/** The dataset a model is judged on: --dataset (read at the model's input size), else its own. */
export async function modelDataset(
  v: Values,
  m: ModelForData & { meta: { grey?: GreyInput } | null },
): Promise<LoadedDataset> {
  const eng = engineSettings(v);
  if (v.dataset === undefined) return datasetForModel(m, null, { home: eng.home });
  // Grey images are fed as the model was trained (padded or resized).
  const data = await loadDatasetWithProgress(
    v.dataset as string,
    m.plan.input.shape[0]!,
    1,
    eng.home,
    m.meta?.grey?.fit,
  );
  for (const w of checkModelData(data, m)) info(`warning: ${w}`);
  return data;
}

/** Runs `work` as a recorded run (energy measured, stored) of the given kind. */
export function recordRun<T>(
  v: Values,
  run: { kind: RunKind; params: Record<string, unknown>; signal?: AbortSignal },
  work: () => Promise<T>,
  result: (t: T) => unknown,
): Promise<Measured<T>> {
  return withMeasureContext(v, run, (ctx) =>
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
