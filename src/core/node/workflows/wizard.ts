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
import { openInference } from '../inference/index.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import type { InferenceEngine } from '../inference/types.ts';
import { baselineResNet, readModelDir } from '../models/io.ts';
import { trainAndRecord } from '../measure/training.ts';
import { addCosts, costBetween, type Cost } from './grid.ts';
import { measured, type TrainingProgress } from '../measure/measured.ts';
import type { RunKind } from '../store/run-rows.ts';
import type { Store } from '../store/store.ts';
import type { Settings } from '../store/settings.ts';
import { argmaxRows, topKAccuracy } from '../train/metrics.ts';
import type { TrainConfig } from '../train/trainer.ts';
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
  /** The progress of the models the wizard trains (option 1's better model, option 2's pair model). */
  onTraining?: TrainingProgress;
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

/** The pair the session repairs and how the model does on it. */
interface Fault {
  faulty: number;
  victim: number;
  matrix: number[][];
  suggested: { faulty: number; victim: number; rate: number };
  initial: Accuracy;
}

export async function runWizard(spec: WizardSpec, ctx: WizardContext): Promise<WizardOutcome> {
  for (const o of spec.options)
    if (!WIZARD_OPTIONS.includes(o as WizardOption))
      throw new UserError(`Unknown option ${o}.`, 'Choose options among 1, 2, 3, 4.', 'usage');
  const read = await readModelDir(spec.model);
  const plan = planModel(read.artifacts);
  // Options that train (a two-class model, a better model) train the model's architecture.
  if (spec.options.some((o) => o === 2 || o === 4) || spec.trainBetter)
    baselineResNet(read.meta, read.dir, 'options 2 and 4 (a two-class model) and --train-better');
  const n = spec.data.info.classNames.length;
  if (plan.classes !== n)
    throw new UserError(
      `The model has ${plan.classes} classes but the dataset ${n}.`,
      'Use the dataset the model was trained on.',
      'bad-input',
    );
  const session = new WizardSession(spec, ctx, read, plan);
  try {
    return await session.run();
  } finally {
    await session.close();
  }
}

/**
 * One wizard run: the fault, the composed modules, each chosen option measured as a run of
 * the session's experiment, and the comparison. The engines it opens close with it.
 */
class WizardSession {
  private readonly names: string[];
  private readonly n: number;
  private readonly opened: InferenceEngine[] = [];
  private readonly experimentId: number;
  private readonly rows: OptionRow[] = [];
  private readonly skipped: WizardResult['skipped'] = [];
  private readonly pipelines = new Map<number, RepairedPipeline>();
  private pairModel: Promise<Opened> | null = null;
  private pairInfo: WizardResult['pair_train'];
  private pairNote: string | undefined;

  private readonly spec: WizardSpec;
  private readonly ctx: WizardContext;
  private readonly read: Awaited<ReturnType<typeof readModelDir>>;
  private readonly plan: ModelPlan;

  constructor(
    spec: WizardSpec,
    ctx: WizardContext,
    read: Awaited<ReturnType<typeof readModelDir>>,
    plan: ModelPlan,
  ) {
    this.spec = spec;
    this.ctx = ctx;
    this.read = read;
    this.plan = plan;
    this.names = spec.data.info.classNames;
    this.n = this.names.length;
    // One experiment for the session; each step the wizard measures is a run of it (an
    // option's run plays the role of that option).
    this.experimentId =
      ctx.experimentId ??
      ctx.store.experiments.start({
        kind: 'wizard',
        label: `Fix-it wizard: ${path.basename(read.dir)} on ${spec.data.info.name}`,
        params: { model: read.dir, dataset: spec.data.info.id, options: spec.options },
      });
  }

  async close(): Promise<void> {
    await Promise.all(this.opened.map((e) => e.close()));
  }

  private say(line: string): void {
    this.ctx.onInfo?.(line);
  }

  private async open(dir: string): Promise<InferenceEngine> {
    const e = await openInference(dir, { engine: this.spec.inference ?? 'auto' });
    this.opened.push(e);
    return e;
  }

  private async measure<T>(kind: RunKind, params: Record<string, unknown>, work: () => Promise<T>) {
    const { store, settings, idle, signal } = this.ctx;
    const option = typeof params.option === 'number' ? params.option : null;
    const r = await measured(
      { store, settings, idle, signal, experimentId: this.experimentId },
      {
        kind,
        params: { wizard: true, ...params },
        ...(option !== null ? { role: 'option' as const, scenario: `option ${option}` } : {}),
        outcome: () => ({ result: { wizard: params } }),
      },
      work,
    );
    return { value: r.value, cost: costBetween(null, r.energy.energy), runId: r.runId };
  }

  private async decomposeModel(
    dir: string,
    engine: InferenceEngine,
    p: ModelPlan,
    d: LoadedDataset,
    what: string,
  ): Promise<{ set: ModuleSet; cost: Cost }> {
    const { perClass, approach } = this.spec.decompose;
    this.say(`decomposing ${what} (${perClass} images per class)…`);
    const r = await this.measure('decompose', { model: dir, what, perClass }, async () => {
      const [set] = await decompose(engine, p, d.train, {
        approaches: [approach ?? DEFAULT_APPROACH],
        perClass,
        seed: this.spec.seed,
        classNames: d.info.classNames,
        signal: this.ctx.signal,
      });
      return set!;
    });
    return { set: r.value, cost: r.cost };
  }

  private async trainModel(
    name: string,
    d: LoadedDataset,
    config: Partial<TrainConfig>,
  ): Promise<{ dir: string; cost: Cost; top1: number }> {
    const { ctx } = this;
    this.say(
      `training ${name}: ResNet-${config.depth} on ${d.info.name} (${d.train.count} images, ${config.epochs} epochs)…`,
    );
    const t = await trainAndRecord({
      store: ctx.store,
      settings: ctx.settings,
      idle: ctx.idle,
      experimentId: this.experimentId,
      scenario: name,
      runDir: path.join(ctx.workDir, name),
      data: d,
      config: { ...config, seed: this.spec.seed },
      workers: ctx.workers,
      backend: ctx.backend,
      signal: ctx.signal,
      params: { wizard: true, what: name, dataset: d.info.id, ...config },
      label: `wizard ${name}`,
      onTraining: ctx.onTraining,
      cancelled: { message: `Training ${name} was cancelled.`, hint: 'Run the wizard again.' },
    });
    return { dir: t.modelDir, cost: costBetween(null, t.energy.energy), top1: t.result.top1 };
  }

  /** Top-1/top-5 over every class, the pair's confusion and the other classes' top-1. */
  private judge(scores: Float32Array, f: Pick<Fault, 'faulty' | 'victim'>): Accuracy {
    const { n } = this;
    const test = this.spec.data.test;
    const pred = argmaxRows(scores, n);
    return {
      top1: topKAccuracy(scores, test.labels, n, 1),
      top5: topKAccuracy(scores, test.labels, n, Math.min(5, n)),
      confusion: confusionRate(pred, test.labels, f.victim, f.faulty),
      other_top1: accuracyExcept(pred, test.labels, [f.victim, f.faulty]),
    };
  }

  /** 1. The model's confusion on the test set and the pair to repair (given, or the worst). */
  private async findFault(base: InferenceEngine): Promise<Fault> {
    const { n, names, spec } = this;
    const test = spec.data.test;
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
    this.say(
      `fault: ${names[victim]} predicted as ${names[faulty]} for ${(confusionRate(pred0, test.labels, victim, faulty) * 100).toFixed(1)}% of its test images`,
    );
    return {
      faulty,
      victim,
      matrix,
      suggested: { faulty: suggested.faulty, victim: suggested.victim, rate: suggested.rate },
      initial: this.judge(probs, { faulty, victim }),
    };
  }

  /** The two-class model of options 2 and 4, trained and decomposed once. */
  private pair(f: Fault): Promise<Opened> {
    this.pairModel ??= (async () => {
      const pd = pairDataset(this.spec.data, f.victim, f.faulty);
      const t = await this.trainModel('pair', pd, { ...this.spec.pairTrain });
      // The paper validates that the two-class model does not show the fault before using it.
      this.pairInfo = { images: pd.train.count, classes: [f.victim, f.faulty], top1: t.top1 };
      if (t.top1 < PAIR_VALID_TOP1) {
        this.pairNote = `the two-class model tells ${this.names[f.victim]} from ${this.names[f.faulty]} only ${(t.top1 * 100).toFixed(1)}% of the time on their test images: train it longer (more epochs) or deeper before trusting options 2 and 4`;
        this.say(`warning: ${this.pairNote}`);
      }
      const engine = await this.open(t.dir);
      const pp = planModel((await readModelDir(t.dir)).artifacts);
      const d = await this.decomposeModel(t.dir, engine, pp, pd, 'the two-class model');
      return { dir: t.dir, engine, set: d.set, decompose: d.cost, train: t.cost };
    })();
    return this.pairModel;
  }

  /** Option 1's better model, given or trained, decomposed; null (and why) when there is none. */
  private async better(): Promise<{ model: Opened; note: string } | { reason: string }> {
    const { spec, read, plan, n } = this;
    let better: { dir: string; cost: Cost; note: string } | null = null;
    if (spec.better) better = { dir: spec.better, cost: ZERO, note: `better model ${spec.better}` };
    else if (spec.trainBetter) {
      const t = await this.trainModel('better', spec.trainBetter.data ?? spec.data, {
        ...baselineResNet(read.meta, read.dir),
        epochs: spec.trainBetter.epochs,
        batchSize: spec.pairTrain.batchSize,
      });
      better = { ...t, note: `better model trained for ${spec.trainBetter.epochs} epochs` };
    }
    if (!better)
      return {
        reason:
          'Option 1 needs a better model: give one with --better DIR, or ask for one with --train-better (trains the same architecture longer).',
      };
    const br = await readModelDir(better.dir);
    const bp = planModel(br.artifacts);
    const engine = await this.open(br.dir);
    if (bp.classes !== n || bp.input.shape.join('x') !== plan.input.shape.join('x'))
      throw new UserError(
        `The better model (${bp.classes} classes, input ${bp.input.shape.join('x')}) does not match the model (${n} classes, input ${plan.input.shape.join('x')}).`,
        'Give a model trained on the same classes and image size.',
        'incompatible-modules',
      );
    const d = await this.decomposeModel(br.dir, engine, bp, spec.data, 'the better model');
    return {
      model: { dir: br.dir, engine, set: d.set, decompose: d.cost, train: better.cost },
      note: better.note,
    };
  }

  /** Runs one option's repaired classifier on the test set, measured, and adds its row. */
  private async runOption(
    f: Fault,
    option: number,
    kind: RunKind,
    prepared: { train: Cost; decompose: Cost },
    pipe: RepairedPipeline,
    note?: string,
  ): Promise<void> {
    const test = this.spec.data.test;
    this.say(`option ${option}: ${label(option)}…`);
    const r = await this.measure(kind, { option, faulty: f.faulty, victim: f.victim }, async () =>
      repairedScores(pipe, test.images, test.count, this.ctx.signal),
    );
    const total = addCosts(prepared.train, prepared.decompose, r.cost);
    this.pipelines.set(option, pipe);
    this.rows.push({
      option,
      label: label(option),
      ...this.judge(r.value, f),
      co2e_lbs: total.co2e_lbs,
      seconds: total.seconds,
      cost: { train: prepared.train, decompose: prepared.decompose, run: r.cost, total },
      run_id: r.runId,
      ...(note ? { note } : {}),
    });
  }

  async run(): Promise<WizardOutcome> {
    const { spec, names, read, ctx } = this;
    const test = spec.data.test;
    const base = await this.open(read.dir);
    const f = await this.findFault(base);

    // 2. The composed modules of the faulty model (the starting point of options 1-3).
    const d0 = await this.decomposeModel(read.dir, base, this.plan, spec.data, 'the model');
    const orig: Opened = { dir: read.dir, engine: base, set: d0.set, decompose: d0.cost, train: ZERO };
    // Every label from the model's modules, the faulty class's from `replace` (null: removed).
    const modules = (
      parts: Opened[],
      replace?: { part: number; classIndex: number } | null,
    ): RepairedPipeline => ({
      kind: 'modules',
      classNames: names,
      parts: parts.map((o) => ({ modelDir: o.dir, engine: o.engine, set: o.set })),
      labels: names.map((_, k) =>
        k === f.faulty && replace !== undefined ? replace : { part: 0, classIndex: k },
      ),
    });
    const composed = this.judge(
      await repairedScores(modules([orig]), test.images, test.count, ctx.signal),
      f,
    );

    // 3. Each chosen option, measured.
    for (const option of [...new Set(spec.options)].sort()) {
      ctx.signal?.throwIfAborted();
      if (option === 1) {
        const b = await this.better();
        if ('reason' in b) {
          this.skipped.push({ option, reason: b.reason });
          this.say(`option 1 skipped: ${b.reason}`);
          continue;
        }
        const { model } = b;
        await this.runOption(
          f,
          1,
          'replace',
          model,
          modules([orig, model], { part: 1, classIndex: f.faulty }),
          b.note,
        );
      } else if (option === 2) {
        const p = await this.pair(f);
        await this.runOption(
          f,
          2,
          'replace',
          p,
          modules([orig, p], { part: 1, classIndex: 1 }),
          this.pairNote,
        );
      } else if (option === 3) {
        await this.runOption(f, 3, 'replace', { train: ZERO, decompose: ZERO }, modules([orig], null));
      } else if (option === 4) {
        const p = await this.pair(f);
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
              { label: f.victim, source: { part: 1, classIndex: 0 } },
              { label: f.faulty, source: { part: 1, classIndex: 1 } },
            ],
          },
        };
        const note = [
          'the two-class model is shared with option 2; its cost is counted in both',
          this.pairNote,
        ]
          .filter(Boolean)
          .join('; ');
        await this.runOption(f, 4, 'evaluate', p, pipe, note);
      }
    }

    const result: WizardResult = {
      classes: names,
      faulty: { index: f.faulty, name: names[f.faulty]! },
      victim: { index: f.victim, name: names[f.victim]! },
      suggested: f.suggested,
      confusion_matrix: f.matrix,
      initial: f.initial,
      composed,
      decomposition: orig.decompose,
      options: this.rows,
      skipped: this.skipped,
      recommendation: recommend(this.rows),
      test_images: test.count,
      model: path.resolve(read.dir),
      dataset: spec.data.info.id,
      ...(this.pairInfo ? { pair_train: this.pairInfo } : {}),
    };
    // Recipes hold module sets but no engines: they outlive this call (saveWizardOption).
    const recipes = new Map<number, RepairedRecipe>();
    for (const [o, p] of this.pipelines)
      recipes.set(o, { ...p, parts: p.parts.map((x) => ({ modelDir: x.modelDir, set: x.set })) });
    return { result, recipes };
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
