// The demo, once for `decomposer demo` and the app's demo job: the demo ResNet trained from
// scratch on the embedded 'shapes' dataset (recorded), its decomposition (Table 1, recorded),
// then the reuse and replace scenarios (Tables 2-5, Figure 6). For the scenarios, a second
// model on the same dataset (ResNet-8, another seed) and one on the second embedded dataset
// are trained, then one intra and one inter scenario each of reuse and replace run with their
// baselines. The demo model's own training is the baseline of the intra replace (it was
// trained from scratch on exactly those classes).
import path from 'node:path';
import type { BackendName } from '../../common/api.ts';
import type { LoadedDataset, Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { loadDataset } from '../data/index.ts';
import { Rng } from '../data/random.ts';
import { subset } from '../train/batches.ts';
import { APPROACHES, DEFAULT_DELTA, DEFAULT_POINT, type Table1 } from '../decompose/index.ts';
import { demoDatasetSpec } from '../demo.ts';
import { planModel } from '../graph/plan.ts';
import { idlePowers, type MeasureContext, type Measured } from '../measure/measured.ts';
import { trainAndRecord, type RecordedTraining } from '../measure/training.ts';
import { readModelDir } from '../models/io.ts';
import {
  baselineFrom,
  imagesKey,
  runGrid,
  type BaselineResult,
  type GridContext,
  type GridModel,
  type ScenarioRow,
} from './grid.ts';
import { intraReplaceGrid } from '../reuse/scenario.ts';
import { gridSpec } from './grid-spec.ts';
import { recordedTable1 } from './decomposition.ts';

export interface DemoSettings {
  depth: number;
  epochs: number;
  /** Training images per class of the demo's datasets. */
  perClass: number;
  batchSize: number;
  seed: number;
  size: 32 | 64;
  /** Images per class the decomposition observes (at most perClass); 0 skips it and the scenarios. */
  decomposePerClass: number;
  /** Go on to the reuse and replace scenarios after Table 1. */
  scenarios: boolean;
  /** The scenarios' baselines: most epochs and patience (default: the settings). */
  baseline?: { epochs: number; patience: number };
}

export type DemoTrainConfig = { depth: number; epochs: number; batchSize: number; seed: number };

export interface DemoContext extends MeasureContext {
  cacheDir: string;
  workers?: number;
  backend?: BackendName | null;
  /** Loading the dataset, and the decomposition. */
  onProgress?: (p: Progress) => void;
  /**
   * Another dataset than the embedded 'shapes', loaded the shell's way (a CLI name, an app
   * dataset id). Its training set is cut to `perClass` images per class (seeded); its test set
   * is kept whole.
   */
  loadData?: () => Promise<LoadedDataset>;
  /**
   * Trains the demo model from scratch as a recorded run, in a folder the shell chooses (it
   * shows the training's progress its own way); the scenarios' models train beside it.
   */
  train: (data: LoadedDataset, config: DemoTrainConfig, experimentId: number) => Promise<RecordedTraining>;
  /** Table 1 is ready (the scenarios follow). */
  onTable1?: (t: DemoTable1) => void;
}

/** Table 1 of the demo model, recorded; with the model and dataset it describes. */
export type DemoTable1 = Measured<{ table: Table1; dirs: string[] }> & {
  modelDir: string;
  datasetId: string;
};

export interface DemoResult {
  data: LoadedDataset;
  training: RecordedTraining;
  /** Null when the training did not finish or the decomposition was skipped. */
  table1: DemoTable1 | null;
  scenarios: { reuse: ScenarioRow[]; replace: ScenarioRow[] } | null;
}

/**
 * At most `perClass` training images of each class, picked with a seeded shuffle, in their
 * original order; the test set whole. The dataset keeps its id: a model trained on the subset
 * is still a model of that dataset (its test set is the same).
 */
export function perClassSubset(d: LoadedDataset, perClass: number, seed: number): LoadedDataset {
  const order = Int32Array.from({ length: d.train.count }, (_, i) => i);
  new Rng(seed ^ 0xde50).shuffle(order);
  const taken = new Map<number, number>();
  const keep: number[] = [];
  for (const i of order) {
    const c = d.train.labels[i]!;
    const n = taken.get(c) ?? 0;
    if (n < perClass) {
      taken.set(c, n + 1);
      keep.push(i);
    }
  }
  if (keep.length === d.train.count) return d;
  keep.sort((a, b) => a - b);
  const train = subset(d.train, keep);
  return { ...d, train, info: { ...d.info, trainCount: train.count } };
}

export async function runDemo(s: DemoSettings, ctx: DemoContext): Promise<DemoResult> {
  const say = ctx.onInfo ?? (() => undefined);
  const data = ctx.loadData
    ? perClassSubset(await ctx.loadData(), s.perClass, s.seed)
    : await loadDataset(demoDatasetSpec(s.perClass, s.seed, undefined, s.size), {
        cacheDir: ctx.cacheDir,
        signal: ctx.signal,
        onProgress: (p) => ctx.onProgress?.({ stage: `Loading dataset: ${p.stage}`, fraction: p.fraction }),
      });
  ctx.signal?.throwIfAborted();
  if (s.scenarios && data.info.imageSize !== 32 && data.info.imageSize !== 64)
    throw new UserError(
      `The demo's inter-dataset scenarios pair ${data.info.name} with the embedded textures, made at 32x32 or 64x64, not ${data.info.imageSize}x${data.info.imageSize}.`,
      'Load the dataset at --size 32 or 64, or run the demo with --no-reuse.',
      'usage',
    );
  const config = { depth: s.depth, epochs: s.epochs, batchSize: s.batchSize, seed: s.seed };
  // Every run of the demo belongs to one experiment: its training, Table 1, the scenarios.
  const experimentId =
    ctx.experimentId ??
    ctx.store.experiments.start({
      kind: 'demo',
      label: `Demo: ResNet-${s.depth} on ${data.info.name}`,
      params: { ...s, dataset: data.info.id },
    });
  ctx = { ...ctx, experimentId };
  const training = await ctx.train(data, config, experimentId);
  const r = training.result;
  const decomposePerClass = Math.min(s.decomposePerClass, s.perClass);
  if (r.status !== 'finished' || !r.modelDir || decomposePerClass <= 0)
    return { data, training, table1: null, scenarios: null };
  const modelDir = r.modelDir;
  const n = data.info.classNames.length;
  // One idle measurement for Table 1 and every run of the scenarios.
  const idle = ctx.idle ?? (await idlePowers(ctx.settings, say));
  say(`decomposing into ${n} modules (${decomposePerClass} images per class)…`);
  const measuredTable1 = await recordedTable1(
    { ...ctx, idle },
    { dir: modelDir, plan: planModel((await readModelDir(modelDir)).artifacts), data },
    {
      label: `Decompose ResNet-${s.depth} on ${data.info.name} (${APPROACHES.join(', ')})`,
      approaches: [...APPROACHES],
      perClass: decomposePerClass,
      delta: DEFAULT_DELTA,
      point: DEFAULT_POINT,
      rule: 'prose',
      seed: s.seed,
      onProgress: (fraction, stage) => ctx.onProgress?.({ stage, fraction }),
    },
  );
  const table1: DemoTable1 = { ...measuredTable1, modelDir, datasetId: data.info.id };
  ctx.onTable1?.(table1);
  if (!s.scenarios) return { data, training, table1, scenarios: null };
  const scenarios = await runDemoScenarios(
    {
      model: { dir: modelDir, data },
      config,
      perClass: s.perClass,
      decomposePerClass,
      ownBaseline: baselineFrom(r, training.energy, training.runId),
      cacheDir: ctx.cacheDir,
      baseline: s.baseline ?? {
        epochs: ctx.settings.baselineMaxEpochs,
        patience: ctx.settings.baselinePatience,
      },
    },
    {
      store: ctx.store,
      settings: ctx.settings,
      idle,
      experimentId,
      workers: ctx.workers,
      backend: ctx.backend,
      signal: ctx.signal,
      onInfo: say,
      onTraining: ctx.onTraining,
    },
  );
  return { data, training, table1, scenarios };
}

export interface DemoScenarioOptions {
  /** The demo model and its dataset. */
  model: GridModel;
  config: { depth: number; epochs: number; batchSize: number; seed: number };
  /** Training images per class of the demo's datasets. */
  perClass: number;
  decomposePerClass: number;
  /** The demo model's own training, as a baseline (see above). */
  ownBaseline: BaselineResult;
  cacheDir: string;
  baseline: { epochs: number; patience: number };
}

async function runDemoScenarios(
  o: DemoScenarioOptions,
  ctx: Omit<GridContext, 'workDir' | 'knownBaselines' | 'scenarios'>,
): Promise<{ reuse: ScenarioRow[]; replace: ScenarioRow[] }> {
  const say = ctx.onInfo ?? (() => undefined);
  const size = o.model.data.info.imageSize as 32 | 64;
  // The second dataset has as many test images per class as the demo's.
  const testPerClass = Math.round(o.model.data.info.testCount / o.model.data.info.classNames.length);
  const textures = await loadDataset(
    {
      kind: 'synthetic',
      name: 'textures',
      size,
      seed: o.config.seed,
      trainPerClass: o.perClass,
      testPerClass,
    },
    { cacheDir: o.cacheDir, signal: ctx.signal },
  );
  const root = path.dirname(o.model.dir);
  const second = async (name: string, data: LoadedDataset, seed: number): Promise<GridModel> => {
    say(`training a second model for the scenarios: ResNet-8 on "${data.info.name}"…`);
    const t = await trainAndRecord({
      store: ctx.store,
      settings: ctx.settings,
      idle: ctx.idle,
      experimentId: ctx.experimentId,
      onTraining: ctx.onTraining,
      runDir: path.join(root, name),
      data,
      config: { ...o.config, depth: 8, seed },
      workers: ctx.workers,
      backend: ctx.backend,
      signal: ctx.signal,
      params: { demo: true, dataset: data.info.id, ...o.config, depth: 8, seed },
      label: `demo ${name}`,
      cancelled: { message: 'Training was cancelled.', hint: 'Run the demo again.' },
    });
    return { dir: t.modelDir, data };
  };
  const a = o.model;
  // Named after its dataset ("shapes-32x32", "fashion-mnist"): the demo runs on any.
  const slug = a.data.info.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  const b = await second(`model-${slug}-r8`, a.data, o.config.seed + 1);
  const c = await second('model-textures-r8', textures, o.config.seed);
  const spec = (kind: 'reuse' | 'replace', scopes: ('intra' | 'inter')[], replaceClasses?: number[]) =>
    gridSpec(
      {
        kind,
        scopes,
        seed: o.config.seed,
        pick: 2,
        pairs: 1,
        ...(replaceClasses ? { replaceClasses } : {}),
        perClass: o.decomposePerClass,
        // Fair baselines: trained until validation accuracy stops improving (the settings).
        baselineEpochs: o.baseline.epochs,
        baselinePatience: o.baseline.patience,
        baselineDepth: o.config.depth,
        batchSize: o.config.batchSize,
      },
      { settings: ctx.settings, models: [] },
    );
  const n = a.data.info.classNames.length;
  const replaced = intraReplaceGrid(n, [0])[0]!;
  const gctx: GridContext = {
    ...ctx,
    workDir: path.join(root, 'scenarios'),
    knownBaselines: new Map([[imagesKey(replaced), o.ownBaseline]]),
  };
  const reuseIntra = await runGrid(spec('reuse', ['intra']), [a], gctx);
  const reuseInter = await runGrid(spec('reuse', ['inter']), [a, c], gctx);
  const replaceIntra = await runGrid(spec('replace', ['intra'], [0]), [a, b], gctx);
  const replaceInter = await runGrid(spec('replace', ['inter']), [a, c], gctx);
  return {
    reuse: [...reuseIntra.rows, ...reuseInter.rows],
    replace: [...replaceIntra.rows, ...replaceInter.rows],
  };
}
