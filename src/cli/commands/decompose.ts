// decomposer decompose: build one module per class of a trained model (CI, TI, MC,
// MC-BLN, MC-BI), save them next to the model, list, export or delete saved module sets.
import path from 'node:path';
import type { Command } from '../main.ts';
import { intOption, numberOption } from '../main.ts';
import { EXIT, fmtSeconds, info, interruptSignal, printJson } from '../output.ts';
import {
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  engineSettings,
  loadDatasetWithProgress,
} from './train.ts';
import { dbFile } from './energy.ts';
import { foundSpecFromId, loadDataset } from '../../core/node/data/index.ts';
import { cacheDir } from '../../core/node/paths.ts';
import { syntheticSpecFromId } from '../../core/node/jobs/analysis.ts';
import { UserError } from '../../core/common/errors.ts';
import type { GreyInput, LoadedDataset } from '../../core/common/dataset.ts';
import {
  BLN_RULES,
  DEFAULT_APPROACH,
  DEFAULT_DELTA,
  DEFAULT_POINT,
  decompose,
  deleteModuleSet,
  exportRemoved,
  listModuleSets,
  loadModuleSet,
  meanJaccard,
  parseApproach,
  saveModuleSet,
  type BlnRule,
  type DecomposeOptions,
} from '../../core/node/decompose/index.ts';
import {
  openInference,
  planModel,
  type InferenceEngine,
  type ModelPlan,
} from '../../core/node/inference/index.ts';
import { readModelDir, type ModelMeta } from '../../core/node/models/io.ts';
import type { RunKind } from '../../core/node/store/store.ts';
import { Store } from '../../core/node/store/store.ts';
import { measured, type Measured } from '../../core/node/measure/measured.ts';
import { effectiveSettings } from '../../core/node/store/settings.ts';
import { writeFileAtomic } from '../../core/node/fs/atomic.ts';

export type Values = Record<string, string | boolean | undefined>;

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
  --delta D           MC-BLN threshold (default ${DEFAULT_DELTA})
  --rule R            MC-BLN rule: prose (default: remove nodes whose edges serve only the
                      unconcerned node: W[i,vuc] >= +delta and W[i,vc] < +delta) or algorithm2
                      (as printed: W[i,vuc] <= -delta and W[i,vc] >= +delta)
  --point P           where activity is observed: relu (default: ReLU inputs) or conv (Conv2D
                      outputs, the paper's reading; costs more accuracy in ResNets, see README)
  --seed N            sampling seed (default 1)
  --inference E       auto (default) | onnxruntime | tfjs
${ENERGY_USAGE}
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)
  --json              print one JSON object as the result`;

export function decomposeSettings(v: Values): DecomposeOptions {
  const rule = ((v.rule as string | undefined) ?? 'prose') as BlnRule;
  if (!BLN_RULES.includes(rule))
    throw new UserError(`Unknown rule "${v.rule}".`, `Use one of: ${BLN_RULES.join(', ')}.`, 'usage');
  const point = (v.point as string | undefined) ?? DEFAULT_POINT;
  if (point !== 'conv' && point !== 'relu')
    throw new UserError(`Unknown point "${point}".`, 'Use conv or relu.', 'usage');
  const perClass = intOption(v, 'per-class', 1000, 1);
  return {
    perClass,
    unconcerned: intOption(v, 'unconcerned', perClass, 0),
    delta: numberOption(v, 'delta', DEFAULT_DELTA),
    rule,
    point,
    seed: intOption(v, 'seed', 1),
  };
}

export interface OpenedModel {
  dir: string;
  meta: ModelMeta | null;
  plan: ModelPlan;
  engine: InferenceEngine;
}

export async function openModel(v: Values): Promise<OpenedModel> {
  const dir = v.model as string | undefined;
  if (!dir) throw new UserError('No model given.', 'Give the model folder with --model DIR.', 'usage');
  const read = await readModelDir(dir);
  const plan = planModel(read.artifacts);
  const engine = await openInference(read.dir, {
    engine: (v.inference as 'auto' | 'onnxruntime' | 'tfjs' | undefined) ?? 'auto',
  });
  return { dir: read.dir, meta: read.meta, plan, engine };
}

export async function modelDataset(
  v: Values,
  m: { meta: { datasetId?: string; grey?: GreyInput } | null; plan: ModelPlan },
  quiet: boolean,
): Promise<LoadedDataset> {
  // The embedded dataset the model was trained on, exactly (seed and sizes), or the MNIST-family
  // dataset found on this machine it was trained on, unless told otherwise.
  const id = v.dataset === undefined ? m.meta?.datasetId : undefined;
  const exact = id ? (syntheticSpecFromId(id) ?? foundSpecFromId(id, engineSettings(v).home)) : null;
  if (exact) {
    const data = await loadDataset(exact, { cacheDir: cacheDir(engineSettings(v).home) });
    if (data.info.classNames.length === m.plan.classes && data.info.imageSize === m.plan.input.shape[0])
      return data;
  }
  const name = (v.dataset as string | undefined) ?? m.meta?.datasetId?.match(/^synthetic-(\w+)-/)?.[1];
  if (!name)
    throw new UserError(
      'No dataset given.',
      'Give the dataset the model was trained on with --dataset.',
      'usage',
    );
  const size = m.plan.input.shape[0]!;
  const eng = engineSettings(v);
  // Grey images are fed as the model was trained (padded or resized).
  const data = await loadDatasetWithProgress(name, size, 1, eng.home, quiet, m.meta?.grey?.fit);
  if (data.info.classNames.length !== m.plan.classes)
    throw new UserError(
      `The dataset has ${data.info.classNames.length} classes but the model ${m.plan.classes}.`,
      'Use the dataset the model was trained on.',
      'bad-input',
    );
  return data;
}

/** Runs `work` as a recorded run (energy measured, stored) of the given kind. */
export async function recordRun<T>(
  v: Values,
  run: { kind: RunKind; params: Record<string, unknown>; quiet: boolean; signal?: AbortSignal },
  work: () => Promise<T>,
  result: (t: T) => unknown,
): Promise<Measured<T>> {
  const store = Store.open(dbFile(v));
  try {
    const settings = effectiveSettings(store, {
      idleSeconds: v['idle-seconds'] === undefined ? undefined : intOption(v, 'idle-seconds', 10, 0),
    });
    return await measured(
      { store, settings, signal: run.signal, onInfo: (l) => (run.quiet ? undefined : info(l)) },
      { kind: run.kind, params: run.params, outcome: (value) => ({ result: result(value) }) },
      work,
    );
  } finally {
    store.close();
  }
}

export const decomposeCommand: Command = {
  name: 'decompose',
  summary: 'decompose a trained model into one module per class (saved next to the model)',
  usage: `Usage: decomposer decompose --model DIR [options]
       decomposer decompose --model DIR --list | --export RUN | --delete RUN

Builds one module per class ("c or not c") with CI, TI and MC / MC-BLN / MC-BI and saves
them in <model>/modules/<run-id>/ (manifest.json + modules.bin).

  --approach A        CI+TI+MC | CI+TI+MC-BLN (default) | CI+TI+MC-BLN+MC-BI (or mc, bln, bi)
${DECOMPOSE_USAGE}
  --list              list the saved module sets of the model
  --export RUN        print the removed positions of every module of a saved set (JSON)
  --delete RUN        delete a saved module set`,
  options: {
    ...DECOMPOSE_OPTIONS,
    approach: { type: 'string' },
    list: { type: 'boolean', default: false },
    export: { type: 'string' },
    delete: { type: 'string' },
  },
  async run(v) {
    const json = Boolean(v.json);
    if (v.list || v.export || v.delete) {
      const dir = v.model as string | undefined;
      if (!dir) throw new UserError('No model given.', 'Give the model folder with --model DIR.', 'usage');
      const runDir = (r: string) =>
        path.isAbsolute(r) || r.includes(path.sep) ? r : path.join(dir, 'modules', r);
      if (v.list) {
        const sets = await listModuleSets(dir);
        if (json) printJson({ modules: sets });
        else if (!sets.length) info('no module sets saved for this model');
        else
          for (const s of sets)
            info(`${s.runId}  ${s.approach.padEnd(20)} ${s.modules} modules  mean JI ${s.meanJi.toFixed(2)}`);
      } else if (v.export) {
        const read = await readModelDir(dir);
        const set = await loadModuleSet(runDir(v.export as string), {
          parentHash: planModel(read.artifacts).hash,
        });
        printJson(exportRemoved(set));
      } else {
        await deleteModuleSet(runDir(v.delete as string));
        if (json) printJson({ deleted: v.delete });
        else info(`deleted ${v.delete as string}`);
      }
      return EXIT.ok;
    }
    const approach = parseApproach((v.approach as string | undefined) ?? DEFAULT_APPROACH);
    const settings = decomposeSettings(v);
    const m = await openModel(v);
    try {
      const data = await modelDataset(v, m, json);
      const signal = interruptSignal();
      const rec = await recordRun(
        v,
        {
          kind: 'decompose',
          params: { model_dir: path.resolve(m.dir), dataset: data.info.id, approach, ...settings },
          quiet: json,
          signal,
        },
        async () => {
          const [set] = await decompose(m.engine, m.plan, data.train, {
            ...settings,
            approaches: [approach],
            classNames: data.info.classNames,
            signal,
            onProgress: (f, stage) =>
              json ? undefined : process.stderr.write(`\r  ${stage} ${Math.round(f * 100)}%   `),
          });
          if (!json) process.stderr.write('\n');
          const dir = await saveModuleSet(m.dir, set!);
          return { set: set!, dir };
        },
        ({ set, dir }) => ({ modules_dir: dir, mean_ji: meanJaccard(set), modules: set.modules.length }),
      );
      const { set, dir } = rec.value;
      for (const w of set.warnings) info(`warning: ${w}`);
      const out = {
        modules_dir: dir,
        approach,
        modules: set.modules.map((x) => ({ class: x.className, ji: x.ji, kept: x.kept, total: x.total })),
        mean_ji: meanJaccard(set),
        seconds: set.seconds.observe + set.seconds.build,
        warnings: set.warnings,
        run_id: rec.runId,
        energy: rec.energy.energy,
      };
      if (json) printJson(out);
      else {
        info(
          `${set.modules.length} modules (${approach}), mean JI ${out.mean_ji.toFixed(3)}, ${fmtSeconds(out.seconds)}`,
        );
        info(`saved in ${dir}`);
      }
      return EXIT.ok;
    } finally {
      await m.engine.close();
    }
  },
};

/** Writes a JSON result next to the modules (atomically). */
export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
