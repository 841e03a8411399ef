// The repair wizard (the paper's motivating example): find the most-confused pair of a model,
// run the repair options, measure each, compare them (Table 6-like rows) and recommend one.
//   1: replace the faulty module with the same class's module of a better model
//   2: train a small model on just the two classes, and use its faulty-class module
//   3: remove the faulty module (no training)
//   4: keep the model; when it predicts either class, re-decide with option 2's two modules
import path from 'node:path';
import type { LoadedDataset } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import type { IdlePowers } from '../energy/formula.ts';
import type { BackendName } from '../../common/api.ts';
import { PAIR_DEFAULTS, WIZARD_OPTION_TEXT, WIZARD_OPTIONS, type WizardOption } from '../../common/wizard.ts';
import { decompose, DEFAULT_APPROACH, type Approach, type ModuleSet } from '../decompose/decompose.ts';
import { openInference, planModel, type ModelPlan } from '../inference/index.ts';
import type { InferenceEngine } from '../inference/types.ts';
import { readModelDir } from '../models/io.ts';
import { trainAndRecord } from '../measure/training.ts';
import { addCosts, costBetween, type Cost } from './grid.ts';
import { measured } from '../measure/measured.ts';
import type { RunKind, Store } from '../store/store.ts';
import type { Settings } from '../store/settings.ts';
import { argmaxRows, topKAccuracy } from '../train/metrics.ts';
import type { TrainConfig, TrainEvent } from '../train/trainer.ts';
import {
  accuracyExcept,
  confusionMatrix,
  confusionRate,
  mostConfusedPair,
  recommend,
  type Recommendation,
} from '../wizard/analysis.ts';
import { pairDataset } from '../wizard/faulty.ts';
import {
  repairedScores,
  saveRepaired,
  type RepairedPipeline,
  type RepairedRecipe,
} from '../wizard/repaired.ts';

export { WIZARD_OPTIONS };

export { PAIR_DEFAULTS };
/** Below this test top-1 on the two classes, the two-class model is reported as not validated. */
export const PAIR_VALID_TOP1 = 0.75;

export interface WizardSpec {
  /** The faulty model's folder, and the data it is judged on (test) and decomposed on (train). */
  model: string;
  data: LoadedDataset;
  /** Default: the most-confused pair of the model on the test set. */
  faulty?: number;
  victim?: number;
  options: number[];
  /** Option 1: a better model of the same classes, or train one (same architecture, longer). */
  better?: string | null;
  trainBetter?: { epochs: number; data?: LoadedDataset } | null;
  decompose: { perClass: number; approach?: Approach };
  /** Option 2's two-class model. */
  pairTrain: { depth: number; epochs: number; batchSize: number };
  seed: number;
  inference?: 'auto' | 'onnxruntime' | 'tfjs';
}

export interface WizardContext {
  store: Store;
  settings: Settings;
  /** Where trained models (better, pair) go. */
  workDir: string;
  idle?: IdlePowers;
  workers?: number;
  backend?: BackendName | null;
  signal?: AbortSignal;
  onInfo?: (line: string) => void;
  /** Training events of the models the wizard trains ('pair', 'better'). */
  onTrainEvent?: (what: string, e: TrainEvent) => void;
  /** The experiment the session's runs belong to (none: a new wizard experiment). */
  experimentId?: number;
}

export interface Accuracy {
  top1: number;
  top5: number;
  confusion: number;
  other_top1: number;
}

export interface OptionRow extends Accuracy {
  option: number;
  label: string;
  co2e_lbs: number;
  seconds: number;
  cost: { train: Cost; decompose: Cost; run: Cost; total: Cost };
  run_id: number | null;
  note?: string;
}

export interface WizardResult {
  classes: string[];
  faulty: { index: number; name: string };
  victim: { index: number; name: string };
  suggested: { faulty: number; victim: number; rate: number };
  confusion_matrix: number[][];
  initial: Accuracy;
  composed: Accuracy;
  decomposition: Cost;
  options: OptionRow[];
  skipped: { option: number; reason: string }[];
  recommendation: Recommendation | null;
  test_images: number;
  model: string;
  dataset: string;
  /** Option 2/4's two-class model: its training images, of which original classes, and its test top-1 on the two. */
  pair_train?: { images: number; classes: number[]; top1: number };
}

const label = (o: number) => WIZARD_OPTION_TEXT[o as WizardOption].label;

/** The comparison, and each option's repaired classifier (ready to save). */
export interface WizardOutcome {
  result: WizardResult;
  recipes: Map<number, RepairedRecipe>;
}

interface Opened {
  dir: string;
  engine: InferenceEngine;
  set: ModuleSet;
  decompose: Cost;
  train: Cost;
}

export async function runWizard(spec: WizardSpec, ctx: WizardContext): Promise<WizardOutcome> {
  const say = ctx.onInfo ?? (() => undefined);
  const data = spec.data;
  const n = data.info.classNames.length;
  const names = data.info.classNames;
  for (const o of spec.options)
    if (!WIZARD_OPTIONS.includes(o as WizardOption))
      throw new UserError(`Unknown option ${o}.`, 'Choose options among 1, 2, 3, 4.', 'usage');
  const test = data.test;
  const read = await readModelDir(spec.model);
  const plan = planModel(read.artifacts);
  if (plan.classes !== n)
    throw new UserError(
      `The model has ${plan.classes} classes but the dataset ${n}.`,
      'Use the dataset the model was trained on.',
      'bad-input',
    );
  const opened: InferenceEngine[] = [];
  const open = async (dir: string) => {
    const e = await openInference(dir, { engine: spec.inference ?? 'auto' });
    opened.push(e);
    return e;
  };
  // One experiment for the session; each step the wizard measures is a run of it (an option's
  // run plays the role of that option).
  const experimentId =
    ctx.experimentId ??
    ctx.store.startExperiment({
      kind: 'wizard',
      label: `Fix-it wizard: ${path.basename(read.dir)} on ${data.info.name}`,
      params: { model: read.dir, dataset: data.info.id, options: spec.options },
    });
  const measure = async <T>(kind: RunKind, params: Record<string, unknown>, work: () => Promise<T>) => {
    const option = typeof params.option === 'number' ? params.option : null;
    const r = await measured(
      { store: ctx.store, settings: ctx.settings, idle: ctx.idle, signal: ctx.signal, experimentId },
      {
        kind,
        params: { wizard: true, ...params },
        ...(option !== null ? { role: 'option' as const, scenario: `option ${option}` } : {}),
        outcome: () => ({ result: { wizard: params } }),
      },
      work,
    );
    return { value: r.value, cost: costBetween(null, r.energy.energy), runId: r.runId };
  };
  const decomposeModel = async (
    dir: string,
    engine: InferenceEngine,
    p: ModelPlan,
    d: LoadedDataset,
    what: string,
  ) => {
    say(`decomposing ${what} (${spec.decompose.perClass} images per class)…`);
    const r = await measure(
      'decompose',
      { model: dir, what, perClass: spec.decompose.perClass },
      async () => {
        const [set] = await decompose(engine, p, d.train, {
          approaches: [spec.decompose.approach ?? DEFAULT_APPROACH],
          perClass: spec.decompose.perClass,
          seed: spec.seed,
          classNames: d.info.classNames,
          signal: ctx.signal,
        });
        return set!;
      },
    );
    return { set: r.value, cost: r.cost };
  };
  const trainModel = async (
    name: string,
    d: LoadedDataset,
    config: Partial<TrainConfig>,
  ): Promise<{ dir: string; cost: Cost; top1: number }> => {
    say(
      `training ${name}: ResNet-${config.depth} on ${d.info.name} (${d.train.count} images, ${config.epochs} epochs)…`,
    );
    const t = await trainAndRecord({
      store: ctx.store,
      settings: ctx.settings,
      idle: ctx.idle,
      experimentId,
      scenario: name,
      runDir: path.join(ctx.workDir, name),
      data: d,
      config: { ...config, seed: spec.seed },
      workers: ctx.workers,
      backend: ctx.backend,
      signal: ctx.signal,
      params: { wizard: true, what: name, dataset: d.info.id, ...config },
      label: `wizard ${name}`,
      onEvent: ctx.onTrainEvent ? (e) => ctx.onTrainEvent!(name, e) : undefined,
      cancelled: { message: `Training ${name} was cancelled.`, hint: 'Run the wizard again.' },
    });
    return { dir: t.modelDir, cost: costBetween(null, t.energy.energy), top1: t.result.top1 };
  };

  try {
    // 1. Find the fault.
    const base = await open(read.dir);
    const probs = await base.predict(test.images, test.count);
    const pred0 = argmaxRows(probs, n);
    const matrix = confusionMatrix(pred0, test.labels, n);
    const suggested = mostConfusedPair(matrix);
    const faulty = spec.faulty ?? suggested.faulty;
    const victim =
      spec.victim ?? (spec.faulty === undefined ? suggested.victim : mostVictimOf(matrix, faulty));
    for (const [what, c] of [
      ['faulty', faulty],
      ['victim', victim],
    ] as const)
      if (!Number.isInteger(c) || c < 0 || c >= n)
        throw new UserError(
          `The ${what} class ${c} is not a class of the model (0..${n - 1}).`,
          'Pick a class index or name of the dataset.',
          'usage',
        );
    if (faulty === victim)
      throw new UserError('The faulty and victim classes must differ.', 'Pick two classes.', 'usage');
    say(
      `fault: ${names[victim]} predicted as ${names[faulty]} for ${(confusionRate(pred0, test.labels, victim, faulty) * 100).toFixed(1)}% of its test images`,
    );
    const judge = (scores: Float32Array): Accuracy => {
      const pred = argmaxRows(scores, n);
      return {
        top1: topKAccuracy(scores, test.labels, n, 1),
        top5: topKAccuracy(scores, test.labels, n, Math.min(5, n)),
        confusion: confusionRate(pred, test.labels, victim, faulty),
        other_top1: accuracyExcept(pred, test.labels, [victim, faulty]),
      };
    };
    const initial = judge(probs);

    // 2. The composed modules of the faulty model (the starting point of options 1-3).
    const d0 = await decomposeModel(read.dir, base, plan, data, 'the model');
    const orig: Opened = { dir: read.dir, engine: base, set: d0.set, decompose: d0.cost, train: ZERO };
    const allLabels = (replace?: { part: number; classIndex: number } | null): RepairedPipeline => ({
      kind: 'modules',
      classNames: names,
      parts: [],
      labels: names.map((_, k) =>
        k === faulty && replace !== undefined ? replace : { part: 0, classIndex: k },
      ),
    });
    const withParts = (p: RepairedPipeline, parts: Opened[]): RepairedPipeline => ({
      ...p,
      parts: parts.map((o) => ({ modelDir: o.dir, engine: o.engine, set: o.set })),
    });
    const composedPipe = withParts(allLabels(), [orig]);
    const composed = judge(await repairedScores(composedPipe, test.images, test.count, ctx.signal));

    // Models the options need, trained or decomposed once.
    let pair: Opened | null = null;
    let pairInfo: WizardResult['pair_train'];
    let pairNote: string | undefined;
    const getPair = async (): Promise<Opened> => {
      if (pair) return pair;
      const pd = pairDataset(data, victim, faulty);
      const t = await trainModel('pair', pd, { ...spec.pairTrain });
      // The paper validates that the two-class model does not show the fault before using it.
      pairInfo = { images: pd.train.count, classes: [victim, faulty], top1: t.top1 };
      if (t.top1 < PAIR_VALID_TOP1) {
        pairNote = `the two-class model tells ${names[victim]} from ${names[faulty]} only ${(t.top1 * 100).toFixed(1)}% of the time on their test images: train it longer (more epochs) or deeper before trusting options 2 and 4`;
        say(`warning: ${pairNote}`);
      }
      const engine = await open(t.dir);
      const pp = planModel((await readModelDir(t.dir)).artifacts);
      const d = await decomposeModel(t.dir, engine, pp, pd, 'the two-class model');
      pair = { dir: t.dir, engine, set: d.set, decompose: d.cost, train: t.cost };
      return pair;
    };

    const rows: OptionRow[] = [];
    const skipped: WizardResult['skipped'] = [];
    const pipelines = new Map<number, RepairedPipeline>();
    const runOption = async (
      option: number,
      kind: RunKind,
      prepared: { train: Cost; decompose: Cost },
      pipe: RepairedPipeline,
      note?: string,
    ) => {
      say(`option ${option}: ${label(option)}…`);
      const r = await measure(kind, { option, faulty, victim }, async () =>
        repairedScores(pipe, test.images, test.count, ctx.signal),
      );
      const acc = judge(r.value);
      const total = addCosts(prepared.train, prepared.decompose, r.cost);
      pipelines.set(option, pipe);
      rows.push({
        option,
        label: label(option),
        ...acc,
        co2e_lbs: total.co2e_lbs,
        seconds: total.seconds,
        cost: { train: prepared.train, decompose: prepared.decompose, run: r.cost, total },
        run_id: r.runId,
        ...(note ? { note } : {}),
      });
    };

    for (const option of [...new Set(spec.options)].sort()) {
      ctx.signal?.throwIfAborted();
      if (option === 1) {
        let better: { dir: string; cost: Cost; note: string } | null = null;
        if (spec.better) {
          better = { dir: spec.better, cost: ZERO, note: `better model ${spec.better}` };
        } else if (spec.trainBetter) {
          const t = await trainModel('better', spec.trainBetter.data ?? data, {
            depth: read.meta?.depth ?? 20,
            batchNorm: read.meta?.batchNorm ?? false,
            epochs: spec.trainBetter.epochs,
            batchSize: spec.pairTrain.batchSize,
          });
          better = { ...t, note: `better model trained for ${spec.trainBetter.epochs} epochs` };
        }
        if (!better) {
          const reason =
            'Option 1 needs a better model: give one with --better DIR, or ask for one with --train-better (trains the same architecture longer).';
          skipped.push({ option, reason });
          say(`option 1 skipped: ${reason}`);
          continue;
        }
        const br = await readModelDir(better.dir);
        const bp = planModel(br.artifacts);
        const engine = await open(br.dir);
        if (bp.classes !== n || bp.input.shape.join('x') !== plan.input.shape.join('x'))
          throw new UserError(
            `The better model (${bp.classes} classes, input ${bp.input.shape.join('x')}) does not match the model (${n} classes, input ${plan.input.shape.join('x')}).`,
            'Give a model trained on the same classes and image size.',
            'incompatible-modules',
          );
        const d = await decomposeModel(br.dir, engine, bp, data, 'the better model');
        const b: Opened = { dir: br.dir, engine, set: d.set, decompose: d.cost, train: better.cost };
        await runOption(
          1,
          'replace',
          { train: b.train, decompose: b.decompose },
          withParts(allLabels({ part: 1, classIndex: faulty }), [orig, b]),
          better.note,
        );
      } else if (option === 2) {
        const p = await getPair();
        await runOption(
          2,
          'replace',
          { train: p.train, decompose: p.decompose },
          withParts(allLabels({ part: 1, classIndex: 1 }), [orig, p]),
          pairNote,
        );
      } else if (option === 3) {
        await runOption(3, 'replace', { train: ZERO, decompose: ZERO }, withParts(allLabels(null), [orig]));
      } else if (option === 4) {
        const p = await getPair();
        const pipe: RepairedPipeline = {
          kind: 'verify',
          classNames: names,
          parts: [
            { modelDir: read.dir, engine: base, set: null },
            { modelDir: p.dir, engine: p.engine, set: p.set },
          ],
          verify: {
            base: 0,
            pair: [
              { label: victim, source: { part: 1, classIndex: 0 } },
              { label: faulty, source: { part: 1, classIndex: 1 } },
            ],
          },
        };
        await runOption(
          4,
          'evaluate',
          { train: p.train, decompose: p.decompose },
          pipe,
          ['the two-class model is shared with option 2; its cost is counted in both', pairNote]
            .filter(Boolean)
            .join('; '),
        );
      }
    }
    const recommendation = recommend(rows);
    const result: WizardResult = {
      classes: names,
      faulty: { index: faulty, name: names[faulty]! },
      victim: { index: victim, name: names[victim]! },
      suggested: { faulty: suggested.faulty, victim: suggested.victim, rate: suggested.rate },
      confusion_matrix: matrix,
      initial,
      composed,
      decomposition: orig.decompose,
      options: rows,
      skipped,
      recommendation,
      test_images: test.count,
      model: path.resolve(read.dir),
      dataset: data.info.id,
      ...(pairInfo ? { pair_train: pairInfo } : {}),
    };
    // Recipes hold module sets but no engines: they outlive this call (saveWizardOption).
    const recipes = new Map<number, RepairedRecipe>();
    for (const [o, p] of pipelines)
      recipes.set(o, { ...p, parts: p.parts.map((x) => ({ modelDir: x.modelDir, set: x.set })) });
    return { result, recipes };
  } finally {
    await Promise.all(opened.map((e) => e.close()));
  }
}

/** Saves one option of a wizard run as <parent>/<name>, with the run's history; returns the folder. */
export async function saveWizardOption(
  outcome: WizardOutcome,
  option: number,
  parent: string,
  name: string,
): Promise<string> {
  const recipe = outcome.recipes.get(option);
  const row = outcome.result.options.find((r) => r.option === option);
  if (!recipe || !row)
    throw new UserError(
      `Option ${option} did not run, so it cannot be saved.`,
      `Save one of the options that ran (${[...outcome.recipes.keys()].join(', ') || 'none'}), or run option ${option}.`,
      'usage',
    );
  const r = outcome.result;
  return saveRepaired(recipe, parent, name, {
    made_by: 'decomposer wizard',
    model: r.model,
    dataset: r.dataset,
    faulty: r.faulty,
    victim: r.victim,
    option,
    label: row.label,
    accuracy: { top1: row.top1, top5: row.top5, confusion: row.confusion, other_top1: row.other_top1 },
    initial: r.initial,
    cost: row.cost.total,
    run_id: row.run_id,
    recommendation: r.recommendation,
  });
}

const ZERO: Cost = { seconds: 0, kwh: 0, co2e_lbs: 0, co2e_kg: 0, source: 'none' };

/** The class whose images `faulty` swallows most. */
function mostVictimOf(m: number[][], faulty: number): number {
  let best = faulty === 0 ? 1 : 0;
  let rate = -1;
  m.forEach((row, t) => {
    if (t === faulty) return;
    const total = row.reduce((a, b) => a + b, 0);
    const r = total ? row[faulty]! / total : 0;
    if (r > rate) {
      rate = r;
      best = t;
    }
  });
  return best;
}
