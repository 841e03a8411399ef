// Decomposition (Table 1) and reuse/replace scenarios as UI jobs: find the model's dataset,
// run the core, record the run with its energy, and shape the result for the page.
import path from 'node:path';
import type {
  DecomposeParams,
  ModuleMaskView,
  ModuleView,
  ScenarioParams,
  ScenarioView,
  Table1View,
} from '../../common/api.ts';
import type { DatasetSpec, LoadedDataset, Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { loadDataset } from '../data/index.ts';
import { saveModuleSet, table1, type ModuleData, type ModuleSet } from '../decompose/index.ts';
import { openInference, planModel } from '../inference/index.ts';
import { readModelDir } from '../models/io.ts';
import { cacheDir } from '../paths.ts';
import { runCustomScenario } from '../reuse/custom.ts';
import type { GridModel, ScenarioRow } from '../reuse/grid.ts';
import { idlePowers, measured } from '../measure/measured.ts';
import { effectiveSettings } from '../store/settings.ts';
import type { Store } from '../store/store.ts';
import { isEstimatedSource, type BackendName } from '../../common/api.ts';
import { loadById } from './datasets.ts';

export interface AnalysisContext {
  home: string;
  store: Store;
  engine: { backend: BackendName | null; workers: number | undefined };
  signal: AbortSignal;
  progress: (p: Progress) => void;
  onRunId?: (id: number) => void;
  /** Renames the job once the model is known. */
  setLabel?: (label: string) => void;
}

const SYNTHETIC_ID = /^synthetic-(shapes|textures)-(32|64)-s(\d+)-(\d+)x(\d+)$/;

/** The id of a dataset with deliberately corrupted training labels (the wizard's faulty demo). */
const FAULT_SUFFIX = /-fault-\d+to\d+-\d+$/;

/**
 * The exact embedded dataset an id names (its seed and sizes), or null for other ids. A faulty
 * demo model was trained on corrupted labels on purpose; it is judged, decomposed and repaired
 * with the true labels of the dataset the corruption came from.
 */
export function syntheticSpecFromId(id: string): DatasetSpec | null {
  const m = SYNTHETIC_ID.exec(id.replace(FAULT_SUFFIX, ''));
  if (!m) return null;
  return {
    kind: 'synthetic',
    name: m[1] as 'shapes' | 'textures',
    size: Number(m[2]) as 32 | 64,
    seed: Number(m[3]),
    trainPerClass: Number(m[4]),
    testPerClass: Number(m[5]),
  };
}

/** A dataset by id: the embedded ones at any size they were generated with, or an imported one. */
export async function loadModelDataset(
  home: string,
  id: string,
  signal: AbortSignal,
  onProgress: (p: Progress) => void,
): Promise<LoadedDataset> {
  const spec = syntheticSpecFromId(id);
  if (spec) return loadDataset(spec, { cacheDir: cacheDir(home), signal, onProgress });
  return loadById(home, id, null, signal, onProgress);
}

/** Opens a model folder and its dataset (the one it was trained on unless given). */
export async function modelAndData(
  ctx: Pick<AnalysisContext, 'home' | 'signal' | 'progress'>,
  modelDir: string,
  datasetId: string | null | undefined,
): Promise<{ dir: string; data: LoadedDataset; depth: number }> {
  const read = await readModelDir(modelDir);
  const id = datasetId ?? read.meta?.datasetId;
  if (!id)
    throw new UserError(
      `The model in ${modelDir} does not say which dataset it was trained on.`,
      'Pick its dataset.',
      'no-dataset',
    );
  const data = await loadModelDataset(ctx.home, id, ctx.signal, (p) =>
    ctx.progress({ stage: `Loading dataset: ${p.stage}`, fraction: p.fraction }),
  );
  const plan = planModel(read.artifacts);
  if (data.info.classNames.length !== plan.classes)
    throw new UserError(
      `The dataset has ${data.info.classNames.length} classes but the model ${plan.classes}.`,
      'Use the dataset the model was trained on.',
      'bad-input',
    );
  if (data.info.imageSize !== plan.input.shape[0])
    throw new UserError(
      `The dataset's images are ${data.info.imageSize}×${data.info.imageSize} but the model takes ${plan.input.shape[0]}×${plan.input.shape[0]}.`,
      'Use the dataset the model was trained on.',
      'bad-input',
    );
  return { dir: read.dir, data, depth: read.meta?.depth ?? 20 };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Per mask layer, the kept fraction of each channel ([H, W, C] is stored channel last). */
export function maskSummary(set: ModuleSet, m: ModuleData): ModuleMaskView[] {
  return set.layers.map((l) => {
    const removed = m.removed.get(l.name);
    const channels = l.shape.at(-1) ?? 1;
    const kept = new Array<number>(channels).fill(0);
    const per = l.size / channels;
    if (!removed) kept.fill(per);
    else for (let i = 0; i < l.size; i++) if (!removed[i]) kept[i % channels]!++;
    return { layer: l.name, shape: [...l.shape], keptByChannel: kept.map((k) => round(k / per)) };
  });
}

function moduleViews(set: ModuleSet): ModuleView[] {
  return set.modules.map((m) => ({
    classIndex: m.classIndex,
    className: m.className,
    ji: m.ji,
    kept: m.kept,
    total: m.total,
    masks: maskSummary(set, m),
  }));
}

export async function runDecomposition(ctx: AnalysisContext, p: DecomposeParams): Promise<Table1View> {
  const { dir, data, depth } = await modelAndData(ctx, p.modelDir, p.dataset);
  ctx.signal.throwIfAborted();
  const label = `Decompose ResNet-${depth} on ${data.info.name} (${p.approaches.join(', ')})`;
  ctx.setLabel?.(label);
  const read = await readModelDir(dir);
  const plan = planModel(read.artifacts);
  const settings = effectiveSettings(ctx.store);
  ctx.progress({
    stage: settings.idleSeconds > 0 ? `Measuring idle power for ${settings.idleSeconds} s` : 'Starting',
    fraction: 0,
  });
  const run = await measured(
    { store: ctx.store, settings, signal: ctx.signal },
    {
      kind: 'decompose',
      label,
      params: {
        experiment: 'decomposition',
        model_dir: path.resolve(dir),
        dataset: data.info.id,
        approaches: p.approaches,
        perClass: p.perClass,
        delta: p.delta,
        point: p.point,
        seed: p.seed,
        rule: 'prose',
      },
      onStart: (rec) => ctx.onRunId?.(rec.id),
      outcome: ({ t, dirs }) => ({
        result: {
          model_top1: t.model.top1,
          model_top5: t.model.top5,
          test_images: t.testImages,
          decomposition: t.rows.map((r) => ({
            approach: r.approach,
            top1: r.top1,
            top5: r.top5,
            ji: r.ji,
            seconds: r.seconds,
            eval_seconds: r.evalSeconds,
          })),
          modules_dirs: dirs,
        },
      }),
    },
    async () => {
      const engine = await openInference(dir, { engine: 'auto' });
      try {
        const t = await table1(engine, plan, data.train, data.test, {
          approaches: [...p.approaches],
          perClass: p.perClass,
          point: p.point,
          delta: p.delta,
          rule: 'prose',
          seed: p.seed,
          classNames: data.info.classNames,
          signal: ctx.signal,
          onProgress: (fraction, stage) => ctx.progress({ stage, fraction: Math.min(0.95, fraction * 0.9) }),
        });
        ctx.progress({ stage: 'Saving the module sets', fraction: 0.97 });
        const dirs: string[] = [];
        for (const s of t.sets) dirs.push(await saveModuleSet(dir, s));
        return { t, dirs };
      } finally {
        await engine.close();
      }
    },
  );
  const { t, dirs } = run.value;
  return {
    modelDir: dir,
    datasetId: data.info.id,
    testImages: t.testImages,
    model: t.model,
    rows: t.rows.map((r, i) => ({ ...r, dir: dirs[i] ?? null, modules: moduleViews(t.sets[i]!) })),
    warnings: t.sets[0]?.warnings ?? [],
  };
}

export function scenarioView(r: ScenarioRow): ScenarioView {
  const c = r.cost;
  const reuse = c.build.co2e_kg + c.predict.co2e_kg;
  return {
    scenario: r.scenario,
    kind: r.kind,
    classes: r.classes,
    ...(r.ma !== undefined ? { ma: r.ma } : {}),
    ...(r.mma !== undefined ? { mma: r.mma } : {}),
    ...(r.top1 !== undefined ? { top1: r.top1, top5: r.top5 } : {}),
    ...(r.model_top1 !== undefined ? { modelTop1: r.model_top1, modelTop5: r.model_top5 } : {}),
    tma: r.tma,
    testImages: r.test_images,
    co2eRatioFixed: r.co2e_ratio_fixed,
    co2eRatioBest: r.co2e_ratio_best,
    co2eRatioFixedWithDecomposition: r.co2e_ratio_fixed_with_decomposition,
    co2eRatioBestWithDecomposition: r.co2e_ratio_best_with_decomposition,
    reuseCo2eKg: reuse,
    decompositionCo2eKg: c.decomposition.co2e_kg,
    baselineFixedCo2eKg: c.baseline_fixed.co2e_kg + c.baseline_predict.co2e_kg,
    baselineBestCo2eKg: c.baseline_best.co2e_kg + c.baseline_predict.co2e_kg,
    estimated: [c.build, c.predict, c.baseline_fixed].some((x) => isEstimatedSource(x.source)),
  };
}

export async function runScenario(ctx: AnalysisContext, p: ScenarioParams): Promise<ScenarioView> {
  const models: (GridModel & { depth: number })[] = [];
  for (const dir of p.models) models.push(await modelAndData(ctx, dir, null));
  const sizes = new Set(models.map((m) => m.data.info.imageSize));
  if (sizes.size > 1)
    throw new UserError(
      `The models take different input sizes (${[...sizes].map((s) => `${s}×${s}`).join(' and ')}).`,
      'Modules whose models take different input sizes cannot be composed: pick models of one input size.',
      'incompatible-modules',
    );
  const settings = effectiveSettings(ctx.store);
  if (settings.idleSeconds > 0)
    ctx.progress({ stage: `Measuring idle power for ${settings.idleSeconds} s`, fraction: 0 });
  const idle = await idlePowers(settings);
  ctx.progress({ stage: 'Decomposing the models (once; kept with the models)', fraction: 0.1 });
  const row = await runCustomScenario(
    {
      kind: p.kind,
      ...(p.classes ? { classes: p.classes } : {}),
      ...(p.replaced !== undefined ? { replaced: p.replaced } : {}),
      ...(p.replacement ? { replacement: p.replacement } : {}),
    },
    models,
    {
      approach: p.approach,
      perClass: p.perClass,
      baselineEpochs: p.baselineEpochs,
      baselineDepth: models[0]!.depth,
      seed: p.seed,
    },
    {
      store: ctx.store,
      settings,
      idle,
      workDir: path.join(ctx.home, 'experiments'),
      workers: ctx.engine.workers,
      backend: ctx.engine.backend,
      signal: ctx.signal,
      onInfo: (line) => {
        const stage = line.replace(/…$/, '');
        const fraction = /^baseline/.test(line) ? 0.6 : /composing/.test(line) ? 0.4 : 0.2;
        ctx.progress({ stage: stage.slice(0, 200), fraction });
      },
    },
  );
  return scenarioView(row);
}
