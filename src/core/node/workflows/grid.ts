// Running the paper's reuse and replace grids (Tables 2-5, Figure 6): decompose each model
// once, compose each scenario's modules on its test images, train the same architecture
// from scratch on exactly the scenario's classes as the baseline, and measure time and
// energy of every piece. Each finished piece is a row in the store, so an interrupted grid
// resumes where it stopped. Reuse never retrains: it costs forward passes only.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { LoadedDataset } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import type { EnergyRecord } from '../energy/formula.ts';
import { co2eRatio, crowded, floorKwh, MIXED_ATTRIBUTION } from '../../common/energy.ts';
import { openInference } from '../inference/index.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import type { InferenceEngine } from '../inference/types.ts';
import { readModelDir } from '../models/io.ts';
import { trainAndRecord } from '../measure/training.ts';
import { composedScores, type ComposeSource } from '../decompose/compose.ts';
import {
  decompose,
  gather,
  type Approach,
  type DecompositionPoint,
  type ModuleSet,
} from '../decompose/decompose.ts';
import type { BlnRule } from '../decompose/algorithms.ts';
import { loadModuleSet, saveModuleSet } from '../decompose/files.ts';
import { measured, type MeasureContext, type RunRecorder } from '../measure/measured.ts';
import { topKAccuracy } from '../train/metrics.ts';
import { trainingEngineName, type TrainResult } from '../train/trainer.ts';
import type { BackendName } from '../../common/api.ts';
import { continualModule } from '../reuse/continual.ts';
import {
  gatherClasses,
  interReplaceGrid,
  interReuseGrid,
  intraReplaceGrid,
  intraReuseGrid,
  scenarioDataset,
  type Scenario,
} from '../reuse/scenario.ts';

export interface GridModel {
  /** The trained model's folder (model.json). */
  dir: string;
  /** The dataset it was trained on. */
  data: LoadedDataset;
}

export interface GridSpec {
  kind: 'reuse' | 'replace';
  /** Which scenarios: intra (one dataset) and/or inter (two datasets). */
  scopes: ('intra' | 'inter')[];
  seed: number;
  /** Intra reuse: classes picked at random, composed pairwise (paper: 4, so 6 pairs). */
  pick: number;
  /** Inter reuse pairs, inter replace count. */
  pairs: number;
  /** Intra replace: the classes whose module is replaced (default all). */
  replaceClasses?: number[];
  approach: Approach;
  decompose: { perClass: number; point: DecompositionPoint; delta: number; rule: BlnRule };
  /**
   * Each baseline trains from scratch until its validation accuracy has not improved for
   * `patience` epochs, at most `epochs` (the paper keeps the best-validation model).
   */
  baseline: { epochs: number; patience: number; depth: number; batchSize: number };
  /** Inference engine for the reuse side (put both sides on tfjs with 'tfjs'). */
  inference: 'auto' | 'onnxruntime' | 'tfjs';
}

/** What one phase cost: time and energy, and how far it can be trusted. */
export interface Cost {
  seconds: number;
  kwh: number;
  co2e_lbs: number;
  co2e_kg: number;
  source: string;
  /** How it was attributed: process, machine or mixed (absent in rows of older versions: machine). */
  attribution?: string;
  /** Its noise floor's energy, kWh: a side at or below it gives no ratio (absent in older rows). */
  floor_kwh?: number;
  /** Process attribution: the run had under a quarter of a busy machine's CPU time (common/energy.ts crowded). */
  crowded?: boolean;
}

export interface ScenarioRow {
  scenario: 'reuse' | 'replace';
  kind: 'intra' | 'inter';
  key: string;
  classes: string[];
  /** Reuse: composed top-1 of the modules on the scenario's test images. */
  ma?: number;
  /** Inter reuse: the same with the continuously learned modules. */
  mma?: number;
  /** Replace: composed top-1/top-5 over all classes, and the trained model's own. */
  top1?: number;
  top5?: number;
  model_top1?: number;
  model_top5?: number;
  /** The baseline trained from scratch on the same classes: top-1 on the same test images. */
  tma: number;
  test_images: number;
  cost: {
    decomposition: Cost;
    build: Cost;
    predict: Cost;
    baseline_fixed: Cost;
    baseline_best: Cost;
    baseline_predict: Cost;
  };
  /** Baseline CO2e over reuse CO2e: fixed epochs / until the best epoch, without and with the one-time decomposition. */
  co2e_ratio_fixed: number | null;
  co2e_ratio_best: number | null;
  co2e_ratio_fixed_with_decomposition: number | null;
  co2e_ratio_best_with_decomposition: number | null;
  engines: { reuse: string; baseline: string };
  run_ids: { scenario: number | null; baseline: number | null };
  /** The baseline's best validation epoch, and whether it had stopped improving (absent in rows of older versions). */
  baseline_best_epoch?: number;
  baseline_converged?: boolean;
}

/** Where and how a grid's runs are recorded; `onTraining` sees its baselines train. */
export interface GridContext extends MeasureContext {
  /** Where baselines train and module sets are kept. */
  workDir: string;
  workers?: number;
  backend?: BackendName | null;
  onRow?: (row: ScenarioRow) => void;
  /**
   * Baselines known already, by the scenario images' key: a model trained from scratch on
   * exactly those classes (the demo's own model for a full-dataset replace).
   */
  knownBaselines?: Map<string, BaselineResult>;
  /** Run exactly these scenarios instead of the spec's grid (one user-built scenario). */
  scenarios?: Scenario[];
  /**
   * The experiment the grid's runs belong to (a demo, a custom scenario). Without one, a new
   * grid is an experiment of its own, and a resumed grid continues the one it was first run in.
   */
  experimentId?: number;
}

export interface BaselineResult {
  tma: number;
  fixed: Cost;
  best: Cost;
  predict: Cost;
  engine: string;
  runId: number | null;
  bestEpoch?: number;
  converged?: boolean;
}

export interface GridResult {
  id: string;
  rows: ScenarioRow[];
  resumed: number;
}

const ZERO: Cost = { seconds: 0, kwh: 0, co2e_lbs: 0, co2e_kg: 0, source: 'none' };

/** The cost between two cumulative energy readings of one run, with its noise floor over that stretch. */
export function costBetween(a: EnergyRecord | null, b: EnergyRecord): Cost {
  const seconds = b.seconds - (a?.seconds ?? 0);
  return {
    seconds,
    kwh: Math.max(0, b.kwh - (a?.kwh ?? 0)),
    co2e_lbs: Math.max(0, b.co2e_lbs - (a?.co2e_lbs ?? 0)),
    co2e_kg: Math.max(0, b.co2e_kg - (a?.co2e_kg ?? 0)),
    source: b.source,
    attribution: b.attribution,
    floor_kwh: floorKwh(b, seconds),
    crowded: crowded(b),
  };
}

/** One attribution for parts attributed alike, 'mixed' for parts attributed both ways; parts without energy do not count. */
function joinAttribution(a: Cost, b: Cost): string | undefined {
  if (a.source === 'none') return b.attribution;
  if (b.source === 'none' || (a.attribution ?? 'machine') === (b.attribution ?? 'machine'))
    return a.attribution;
  return MIXED_ATTRIBUTION;
}

/** Parts of one side added up: their noise floors add, a crowded part makes the side crowded. */
export function addCosts(...cs: Cost[]): Cost {
  return cs.reduce(
    (s, c) => ({
      seconds: s.seconds + c.seconds,
      kwh: s.kwh + c.kwh,
      co2e_lbs: s.co2e_lbs + c.co2e_lbs,
      co2e_kg: s.co2e_kg + c.co2e_kg,
      source: c.source !== 'none' ? c.source : s.source,
      attribution: joinAttribution(s, c),
      floor_kwh: (s.floor_kwh ?? 0) + (c.floor_kwh ?? 0),
      crowded: Boolean(s.crowded || c.crowded),
    }),
    ZERO,
  );
}

export { co2eRatio };

interface Opened {
  model: GridModel;
  plan: ModelPlan;
  engine: InferenceEngine;
  set: ModuleSet;
  decomposition: Cost;
}

const imagesKey = (s: Scenario) => s.images.map((c) => `${c.source}:${c.classIndex}`).join(',');

export function scenariosFor(spec: GridSpec, models: GridModel[]): Scenario[] {
  const nA = models[0]!.data.info.classNames.length;
  const nB = models[1]?.data.info.classNames.length ?? 0;
  const out: Scenario[] = [];
  const needB = (what: string) => {
    if (!models[1]) {
      throw new UserError(
        `${what} needs a second model.`,
        'Give it with --model2 DIR (and --dataset2 NAME).',
        'usage',
      );
    }
  };
  for (const scope of spec.scopes) {
    if (spec.kind === 'reuse' && scope === 'intra') out.push(...intraReuseGrid(nA, spec.seed, spec.pick));
    if (spec.kind === 'reuse' && scope === 'inter') {
      needB('Inter-dataset reuse');
      out.push(...interReuseGrid(nA, nB, spec.seed, spec.pairs));
    }
    if (spec.kind === 'replace' && scope === 'intra') {
      needB('Intra-dataset replace');
      if (models[1]!.data.info.id !== models[0]!.data.info.id) {
        throw new UserError(
          'Intra-dataset replace needs two models of the same dataset.',
          "Give a second model trained on the first model's dataset (another depth, or trained longer).",
          'usage',
        );
      }
      out.push(...intraReplaceGrid(nA, spec.replaceClasses));
    }
    if (spec.kind === 'replace' && scope === 'inter') {
      needB('Inter-dataset replace');
      out.push(...interReplaceGrid(nA, nB, spec.seed, spec.pairs));
    }
  }
  return out;
}

export async function runGrid(spec: GridSpec, models: GridModel[], ctx: GridContext): Promise<GridResult> {
  const info = ctx.onInfo ?? (() => undefined);
  const sizes = new Set(models.map((m) => m.data.info.imageSize));
  if (sizes.size > 1) {
    throw new UserError(
      `The models take different input sizes (${[...sizes].join(' and ')}).`,
      "Modules whose models take different input sizes cannot be composed (the paper's stated limitation): pick models of one input size.",
      'incompatible-modules',
    );
  }
  const reads = await Promise.all(models.map((m) => readModelDir(m.dir)));
  const plans = reads.map((r) => planModel(r.artifacts));
  const id = createHash('sha256')
    .update(JSON.stringify({ spec, models: plans.map((p, i) => [p.hash, models[i]!.data.info.id]) }))
    .digest('hex')
    .slice(0, 16);
  const experimentId =
    ctx.experimentId ??
    ctx.store.grids.experimentOf(id) ??
    ctx.store.experiments.start({
      kind: ctx.scenarios ? 'scenario' : 'grid',
      label: `${spec.kind} ${ctx.scenarios ? 'scenario' : 'grid'} on ${models.map((m) => m.data.info.name).join(' and ')}`,
      params: { grid: id, ...spec, models: models.map((m) => m.dir) },
    });
  ctx = { ...ctx, experimentId };
  const done = ctx.store.grids.open(
    id,
    spec.kind,
    { ...spec, models: models.map((m) => m.dir) },
    experimentId,
  );
  const resumed = [...done.keys()].filter((k) => k.startsWith('scenario:')).length;
  if (resumed) info(`resuming grid ${id}: ${resumed} scenario(s) already finished`);

  const opened: Opened[] = [];
  const rows: ScenarioRow[] = [];
  try {
    // 1. One-time decomposition of each model (kept with the model; measured).
    for (let i = 0; i < models.length; i++) {
      ctx.signal?.throwIfAborted();
      const m = models[i]!;
      const engine = await openInference(reads[i]!.dir, { engine: spec.inference });
      const key = `decompose:${i}`;
      const prior = done.get(key)?.row as { dir: string; cost: Cost } | undefined;
      let set: ModuleSet | null = null;
      let cost = ZERO;
      if (prior) {
        try {
          set = await loadModuleSet(prior.dir, { plan: plans[i]! });
          cost = prior.cost;
        } catch {
          set = null;
        }
      }
      if (!set) {
        info(`decomposing ${m.dir} (${spec.approach}, ${spec.decompose.perClass} images per class)…`);
        const r = await measured(
          quietRuns(ctx),
          {
            kind: 'decompose',
            params: { model: m.dir, approach: spec.approach, ...spec.decompose, grid: id },
            outcome: ({ dir }) => ({ result: { modules_dir: dir } }),
          },
          async () => {
            const [built] = await decompose(engine, plans[i]!, m.data.train, {
              approaches: [spec.approach],
              ...spec.decompose,
              seed: spec.seed,
              classNames: m.data.info.classNames,
              signal: ctx.signal,
            });
            return { set: built!, dir: await saveModuleSet(reads[i]!.dir, built!) };
          },
        );
        set = r.value.set;
        cost = costBetween(null, r.energy.energy);
        ctx.store.grids.putRow(id, key, 'decompose', { dir: r.value.dir, cost }, r.runId);
      }
      opened.push({ model: m, plan: plans[i]!, engine, set: set!, decomposition: cost });
    }

    // 2. Every scenario: compose (measured), then its baseline (trained once per class set).
    for (const s of ctx.scenarios ?? scenariosFor(spec, models)) {
      ctx.signal?.throwIfAborted();
      const prior = done.get(`scenario:${s.key}`);
      if (prior) {
        rows.push(prior.row as ScenarioRow);
        ctx.onRow?.(prior.row as ScenarioRow);
        continue;
      }
      const row = await runScenario({ spec, opened, ctx, gridId: id, done }, s);
      ctx.store.grids.putRow(id, `scenario:${s.key}`, s.kind, row, row.run_ids.scenario);
      rows.push(row);
      ctx.onRow?.(row);
    }
    ctx.store.grids.setStatus(id, 'finished');
    return { id, rows, resumed };
  } catch (e) {
    ctx.store.grids.setStatus(id, ctx.signal?.aborted ? 'cancelled' : 'failed');
    throw e;
  } finally {
    await Promise.all(opened.map((o) => o.engine.close()));
  }
}

/** One grid under way: its spec, the models opened (and decomposed), and the rows done. */
interface GridRun {
  spec: GridSpec;
  opened: Opened[];
  ctx: GridContext;
  gridId: string;
  /** Finished rows by key (scenario:…, baseline:…, decompose:…), so a resumed grid skips them. */
  done: Map<string, { row: unknown; runId: number | null }>;
}

async function runScenario(g: GridRun, s: Scenario): Promise<ScenarioRow> {
  const { spec, opened, ctx, gridId } = g;
  const datas = opened.map((o) => o.model.data);
  const names = s.classes.map(
    (c) => `${datas[c.source]!.info.name}:${datas[c.source]!.info.classNames[c.classIndex]}`,
  );
  const scope: 'intra' | 'inter' = s.kind.startsWith('intra') ? 'intra' : 'inter';
  const test = gatherClasses(
    datas.map((d) => d.test),
    s.images,
  );
  ctx.onInfo?.(
    s.replaced !== undefined
      ? `${s.kind}: label ${s.replaced}'s module is now ${names[s.replaced]}'s; composing ${s.classes.length} modules on ${test.count} test images…`
      : `${s.kind} ${names.join(' + ')}: composing ${s.classes.length} modules on ${test.count} test images…`,
  );
  // The scenario's own run: building its modules and predicting with them.
  const run = await measured(
    quietRuns(ctx),
    {
      kind: spec.kind,
      scenario: s.key,
      params: {
        grid: gridId,
        scenario: s.key,
        classes: names,
        approach: spec.approach,
        inference: spec.inference,
      },
      outcome: ({ top1, top5, mma }) => ({ result: { top1, top5, mma } }),
    },
    async (rec: RunRecorder) => {
      // Build: one source per label, so column j of the composed scores votes for label j.
      const sources: ComposeSource[] = s.classes.map((c) => ({
        engine: opened[c.source]!.engine,
        set: opened[c.source]!.set,
        classes: [c.classIndex],
      }));
      const continual = s.kind === 'inter-reuse' ? await continualSources(s, opened) : null;
      const built = rec.energyNow();
      const composed = await composedScores(sources, test.images, test.count, { signal: ctx.signal });
      const M = s.classes.length;
      const top1 = topKAccuracy(composed.scores, test.labels, M, 1);
      const top5 = topKAccuracy(composed.scores, test.labels, M, Math.min(5, M));
      let mma: number | undefined;
      if (continual) {
        const c2 = await composedScores(continual, test.images, test.count, { signal: ctx.signal });
        mma = topKAccuracy(c2.scores, test.labels, M, 1);
      }
      let modelTop: { top1: number; top5: number } | undefined;
      if (spec.kind === 'replace') {
        // The trained model's own accuracy on its own test set, to compare against.
        const a = opened[0]!;
        const probs = await a.engine.predict(a.model.data.test.images, a.model.data.test.count);
        const n = a.plan.classes;
        modelTop = {
          top1: topKAccuracy(probs, a.model.data.test.labels, n, 1),
          top5: topKAccuracy(probs, a.model.data.test.labels, n, Math.min(5, n)),
        };
      }
      return { built, top1, top5, mma, modelTop };
    },
  );
  const { built, top1, top5, mma, modelTop } = run.value;
  const build = costBetween(null, built);
  const predict = costBetween(built, run.energy.energy);
  const baseline = await runBaseline(g, s);
  const decomposition = addCosts(
    ...[...new Set(s.classes.map((c) => c.source))].map((i) => opened[i]!.decomposition),
  );
  const reuse = addCosts(build, predict);
  const withDecomposition = addCosts(reuse, decomposition);
  const baseFixed = addCosts(baseline.fixed, baseline.predict);
  const baseBest = addCosts(baseline.best, baseline.predict);
  return {
    scenario: spec.kind,
    kind: scope,
    key: s.key,
    classes: names,
    ...(spec.kind === 'reuse'
      ? { ma: top1 }
      : { top1, top5, model_top1: modelTop!.top1, model_top5: modelTop!.top5 }),
    ...(mma !== undefined ? { mma } : {}),
    tma: baseline.tma,
    test_images: test.count,
    cost: {
      decomposition,
      build,
      predict,
      baseline_fixed: baseline.fixed,
      baseline_best: baseline.best,
      baseline_predict: baseline.predict,
    },
    co2e_ratio_fixed: co2eRatio(baseFixed, reuse),
    co2e_ratio_best: co2eRatio(baseBest, reuse),
    co2e_ratio_fixed_with_decomposition: co2eRatio(baseFixed, withDecomposition),
    co2e_ratio_best_with_decomposition: co2eRatio(baseBest, withDecomposition),
    engines: { reuse: opened[0]!.engine.name, baseline: baseline.engine },
    run_ids: { scenario: run.runId, baseline: baseline.runId },
    ...(baseline.bestEpoch !== undefined ? { baseline_best_epoch: baseline.bestEpoch } : {}),
    ...(baseline.converged !== undefined ? { baseline_converged: baseline.converged } : {}),
  };
}

/** Continuous learning: each module of an inter reuse learns the other dataset's classes as unconcerned. */
async function continualSources(s: Scenario, opened: Opened[]): Promise<ComposeSource[]> {
  const datas = opened.map((o) => o.model.data);
  const continual: ComposeSource[] = [];
  for (const c of s.classes) {
    const o = opened[c.source]!;
    const others = s.classes.filter((x) => x.source !== c.source);
    const idx: number[] = [];
    const perOther = Math.ceil(o.set.perClass / Math.max(1, others.length));
    const otherImages: Uint8Array[] = [];
    for (const x of others) {
      const set = datas[x.source]!.train;
      const pick: number[] = [];
      for (let i = 0; i < set.count && pick.length < perOther; i++)
        if (set.labels[i] === x.classIndex) pick.push(i);
      idx.push(...pick);
      otherImages.push(gather(set, pick));
    }
    const images = new Uint8Array(otherImages.reduce((n, a) => n + a.length, 0));
    let off = 0;
    for (const a of otherImages) {
      images.set(a, off);
      off += a.length;
    }
    const modified = await continualModule(o.engine, o.plan, o.set, c.classIndex, o.model.data.train, {
      images,
      count: idx.length,
    });
    continual.push({ engine: o.engine, set: { ...o.set, modules: [modified] }, classes: [c.classIndex] });
  }
  return continual;
}

/**
 * A grid's runs are recorded without the recorder's lines (the grid reports its own progress),
 * on its one idle measurement; its baselines' trainings report theirs like any training.
 */
function quietRuns(ctx: GridContext): MeasureContext {
  return {
    store: ctx.store,
    settings: ctx.settings,
    idle: ctx.idle,
    signal: ctx.signal,
    experimentId: ctx.experimentId,
    onTraining: ctx.onTraining,
  };
}

/** Trains the same architecture from scratch on exactly the scenario's classes and data. */
async function runBaseline(g: GridRun, s: Scenario): Promise<BaselineResult> {
  const { spec, opened, ctx, gridId, done } = g;
  const key = imagesKey(s);
  const known =
    ctx.knownBaselines?.get(key) ?? (done.get(`baseline:${key}`)?.row as BaselineResult | undefined);
  if (known) return known;
  const data = scenarioDataset(
    opened.map((o) => o.model.data),
    s,
  );
  const runDir = path.join(
    ctx.workDir,
    'baselines',
    createHash('sha256').update(`${gridId}|${key}`).digest('hex').slice(0, 16),
  );
  ctx.onInfo?.(
    `baseline: training ResNet-${spec.baseline.depth} from scratch on ${data.info.classNames.length} classes (${data.train.count} images, until validation accuracy stops improving for ${spec.baseline.patience} epochs, at most ${spec.baseline.epochs})…`,
  );
  const recorded = await trainAndRecord({
    ...quietRuns(ctx),
    role: 'baseline',
    scenario: key,
    runDir,
    data,
    config: {
      depth: spec.baseline.depth,
      epochs: spec.baseline.epochs,
      patience: spec.baseline.patience,
      batchSize: spec.baseline.batchSize,
      seed: spec.seed,
    },
    workers: ctx.workers,
    backend: ctx.backend,
    params: { grid: gridId, baseline: key, classes: data.info.classNames, ...spec.baseline },
    label: `baseline ${data.info.name}`,
    cancelled: { message: 'The baseline training was cancelled.', hint: 'Run the grid again to resume it.' },
  });
  const b = baselineFrom(recorded.result, recorded.energy, recorded.runId);
  ctx.store.grids.putRow(gridId, `baseline:${key}`, 'baseline', b, recorded.runId);
  // Scenarios on the same classes share this baseline.
  done.set(`baseline:${key}`, { row: b, runId: recorded.runId });
  return b;
}

/** A baseline's accuracy and costs from its training run and recorded energy. */
export function baselineFrom(
  r: TrainResult,
  e: { energy: EnergyRecord; fixedEpochs: EnergyRecord | null; untilBest: EnergyRecord | null },
  runId: number | null,
): BaselineResult {
  const fixed = e.fixedEpochs ?? e.energy;
  return {
    tma: r.top1,
    fixed: costBetween(null, fixed),
    best: costBetween(null, e.untilBest ?? fixed),
    // After the last epoch: the test-set evaluation (and saving the model).
    predict: costBetween(fixed, e.energy),
    engine: trainingEngineName(r.backend),
    runId,
    bestEpoch: r.bestEpoch,
    converged: r.converged,
  };
}

export { imagesKey };
