// The demo's reuse and replace scenarios (Tables 2-5, Figure 6), shared by `decomposer demo`
// and the app's demo job: a second model on the same dataset (ResNet-8, another seed) and one
// on the second embedded dataset are trained, then one intra and one inter scenario each of
// reuse and replace run with their baselines. The demo model's own training is the baseline
// of the intra replace (it was trained from scratch on exactly those classes).
import path from 'node:path';
import type { LoadedDataset } from '../../common/dataset.ts';
import { loadDataset } from '../data/index.ts';
import { DEFAULT_DELTA, DEFAULT_POINT } from '../decompose/index.ts';
import { trainAndRecord } from '../measure/training.ts';
import {
  imagesKey,
  runGrid,
  type BaselineResult,
  type GridContext,
  type GridModel,
  type GridSpec,
  type ScenarioRow,
} from './grid.ts';
import { intraReplaceGrid } from './scenario.ts';

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
}

export async function runDemoScenarios(
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
  const b = await second('model-shapes-r8', a.data, o.config.seed + 1);
  const c = await second('model-textures-r8', textures, o.config.seed);
  const spec = (
    kind: 'reuse' | 'replace',
    scopes: ('intra' | 'inter')[],
    replaceClasses?: number[],
  ): GridSpec => ({
    kind,
    scopes,
    seed: o.config.seed,
    pick: 2,
    pairs: 1,
    replaceClasses,
    approach: 'CI+TI+MC-BLN',
    decompose: { perClass: o.decomposePerClass, point: DEFAULT_POINT, delta: DEFAULT_DELTA, rule: 'prose' },
    baseline: { epochs: o.config.epochs, depth: o.config.depth, batchSize: o.config.batchSize },
    inference: 'auto',
  });
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
