// One wizard session: the fault, the composed modules, each chosen option measured as a run of
// the session's experiment, and the comparison. The engines it opens close with it. Each
// option (options/) prepares its repaired classifier with what the session offers: training
// and decomposing a model, the two-class model options 2 and 4 share, and measuring the result.
import path from 'node:path';
import type { LoadedDataset } from '../../../common/dataset.ts';
import { WIZARD_OPTION_TEXT, type WizardOption } from '../../../common/wizard.ts';
import { decompose, DEFAULT_APPROACH, type ModuleSet } from '../../decompose/decompose.ts';
import { planModel, type ModelPlan } from '../../graph/plan.ts';
import { openInference } from '../../inference/index.ts';
import type { InferenceEngine } from '../../inference/types.ts';
import { measured } from '../../measure/measured.ts';
import { trainAndRecord } from '../../measure/training.ts';
import { baselineArchitecture, readModelDir } from '../../models/io.ts';
import type { RunKind } from '../../store/run-rows.ts';
import { architectureNote } from '../../train/architecture.ts';
import type { TrainConfig } from '../../train/trainer.ts';
import { recommend } from '../../wizard/analysis.ts';
import { pairDataset } from '../../wizard/faulty.ts';
import {
  repairedScores,
  type LabelSource,
  type RepairedPipeline,
  type RepairedRecipe,
} from '../../wizard/repaired.ts';
import { addCosts, costBetween, type Cost } from '../costs.ts';
import { judge } from './fault.ts';
import type {
  Accuracy,
  DecomposedModel,
  Fault,
  OptionRow,
  WizardContext,
  WizardOutcome,
  WizardResult,
  WizardSpec,
} from './types.ts';

/** Below this test top-1 on the two classes, the two-class model is reported as not validated. */
export const PAIR_VALID_TOP1 = 0.75;

export const optionLabel = (o: number) => WIZARD_OPTION_TEXT[o as WizardOption].label;

export class WizardSession {
  readonly names: string[];
  readonly n: number;
  /** Why the two-class model is not to be trusted, once it is trained (options 2 and 4 say it). */
  pairNote: string | undefined;
  private readonly opened: InferenceEngine[] = [];
  private readonly experimentId: number;
  private readonly rows: OptionRow[] = [];
  private readonly skipped: WizardResult['skipped'] = [];
  private readonly pipelines = new Map<number, RepairedPipeline>();
  private pairModel: Promise<DecomposedModel> | null = null;
  private pairInfo: WizardResult['pair_train'];

  readonly spec: WizardSpec;
  readonly ctx: WizardContext;
  readonly read: Awaited<ReturnType<typeof readModelDir>>;
  readonly plan: ModelPlan;

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

  say(line: string): void {
    this.ctx.onInfo?.(line);
  }

  async open(dir: string): Promise<InferenceEngine> {
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

  async decomposeModel(
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

  /** Trains a model of `config`'s ResNet, or of an imported model's architecture (`imported`: its folder). */
  async trainModel(
    name: string,
    d: LoadedDataset,
    config: Partial<TrainConfig>,
    imported?: string,
  ): Promise<{ dir: string; cost: Cost; top1: number }> {
    const { ctx } = this;
    const what = imported ? `the architecture of ${imported}` : `ResNet-${config.depth}`;
    const note = imported ? await architectureNote(imported) : null;
    if (note) this.say(`training ${name}: ${note}`);
    this.say(
      `training ${name}: ${what} on ${d.info.name} (${d.train.count} images, ${config.epochs} epochs)…`,
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
      ...(imported ? { architecture: imported } : {}),
      params: { wizard: true, what: name, dataset: d.info.id, ...config },
      label: `wizard ${name}`,
      onTraining: ctx.onTraining,
      cancelled: { message: `Training ${name} was cancelled.`, hint: 'Run the wizard again.' },
    });
    return { dir: t.modelDir, cost: costBetween(null, t.energy.energy), top1: t.result.top1 };
  }

  /** Top-1/top-5 over every class, the pair's confusion and the other classes' top-1. */
  judge(scores: Float32Array, f: Pick<Fault, 'faulty' | 'victim'>): Accuracy {
    return judge(scores, this.spec.data.test, this.n, f);
  }

  /**
   * A classifier of modules: every label from part 0's modules, the faulty class's from
   * `replace` (null: removed).
   */
  modules(f: Fault, parts: DecomposedModel[], replace?: LabelSource | null): RepairedPipeline {
    return {
      kind: 'modules',
      classNames: this.names,
      parts: parts.map((o) => ({ modelDir: o.dir, engine: o.engine, set: o.set })),
      labels: this.names.map((_, k) =>
        k === f.faulty && replace !== undefined ? replace : { part: 0, classIndex: k },
      ),
    };
  }

  /** The two-class model of options 2 and 4, trained and decomposed once. */
  pair(f: Fault): Promise<DecomposedModel> {
    this.pairModel ??= (async () => {
      const pd = pairDataset(this.spec.data, f.victim, f.faulty);
      // An imported model's pair model is its own architecture (its modules then compose with
      // the model's: the same input and preprocessing); ours, a ResNet of --pair-depth.
      const arch = baselineArchitecture(this.read.meta, this.read.dir);
      const t = await this.trainModel(
        'pair',
        pd,
        { ...this.spec.pairTrain },
        arch.kind === 'imported' ? arch.dir : undefined,
      );
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

  /** An option that could not run, and why. */
  skip(option: number, reason: string): void {
    this.skipped.push({ option, reason });
    this.say(`option ${option} skipped: ${reason}`);
  }

  /** Runs one option's repaired classifier on the test set, measured, and adds its row. */
  async runOption(
    f: Fault,
    option: number,
    kind: RunKind,
    prepared: { train: Cost; decompose: Cost },
    pipe: RepairedPipeline,
    note?: string,
  ): Promise<void> {
    const test = this.spec.data.test;
    this.say(`option ${option}: ${optionLabel(option)}…`);
    const r = await this.measure(kind, { option, faulty: f.faulty, victim: f.victim }, async () =>
      repairedScores(pipe, test.images, test.count, this.ctx.signal),
    );
    const total = addCosts(prepared.train, prepared.decompose, r.cost);
    this.pipelines.set(option, pipe);
    this.rows.push({
      option,
      label: optionLabel(option),
      ...this.judge(r.value, f),
      co2e_lbs: total.co2e_lbs,
      seconds: total.seconds,
      cost: { train: prepared.train, decompose: prepared.decompose, run: r.cost, total },
      run_id: r.runId,
      ...(note ? { note } : {}),
    });
  }

  /** The comparison of the options that ran, and their recipes (ready to save). */
  outcome(f: Fault, composed: Accuracy, decomposition: Cost): WizardOutcome {
    const { spec, names, read } = this;
    const result: WizardResult = {
      classes: names,
      faulty: { index: f.faulty, name: names[f.faulty]! },
      victim: { index: f.victim, name: names[f.victim]! },
      suggested: f.suggested,
      confusion_matrix: f.matrix,
      initial: f.initial,
      composed,
      decomposition,
      options: this.rows,
      skipped: this.skipped,
      recommendation: recommend(this.rows),
      test_images: spec.data.test.count,
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
