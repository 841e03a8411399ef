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
import type { LoadedDataset, Progress } from '../../common/dataset.ts';
import type { ModelPlan } from '../inference/index.ts';
import { UserError } from '../../common/errors.ts';
import type { ModuleData, ModuleSet, Table1 } from '../decompose/index.ts';
import { runCustomScenario } from '../workflows/custom-scenario.ts';
import type { GridModel, ScenarioRow } from '../workflows/grid.ts';
import { idlePowers, type TrainingProgress } from '../measure/measured.ts';
import { openModelData } from '../workflows/model-data.ts';
import { recordedTable1 } from '../workflows/decomposition.ts';
import { effectiveSettings } from '../store/settings.ts';
import type { Store } from '../store/store.ts';
import { isEstimatedSource, type BackendName } from '../../common/api.ts';

export interface AnalysisContext {
  home: string;
  store: Store;
  engine: { backend: BackendName | null; workers: number | undefined };
  signal: AbortSignal;
  progress: (p: Progress) => void;
  onRunId?: (id: number) => void;
  /** Renames the job once the model is known. */
  setLabel?: (label: string) => void;
  /** The progress of a training the job runs (a scenario's baseline). */
  onTraining?: TrainingProgress;
}

/** Opens a model folder and its dataset (the one it was trained on unless given). */
export function modelAndData(
  ctx: Pick<AnalysisContext, 'home' | 'signal' | 'progress'>,
  modelDir: string,
  datasetId: string | null | undefined,
): Promise<{ dir: string; data: LoadedDataset; depth: number; plan: ModelPlan }> {
  return openModelData(modelDir, datasetId, {
    home: ctx.home,
    signal: ctx.signal,
    onProgress: (p) => ctx.progress({ stage: `Loading dataset: ${p.stage}`, fraction: p.fraction }),
  });
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
  const { dir, data, depth, plan } = await modelAndData(ctx, p.modelDir, p.dataset);
  ctx.signal.throwIfAborted();
  const label = `Decompose ResNet-${depth} on ${data.info.name} (${p.approaches.join(', ')})`;
  ctx.setLabel?.(label);
  const settings = effectiveSettings(ctx.store);
  ctx.progress({
    stage: settings.idleSeconds > 0 ? `Measuring idle power for ${settings.idleSeconds} s` : 'Starting',
    fraction: 0,
  });
  const run = await recordedTable1(
    { store: ctx.store, settings, signal: ctx.signal },
    { dir, plan, data },
    {
      label,
      approaches: [...p.approaches],
      perClass: p.perClass,
      point: p.point,
      delta: p.delta,
      rule: 'prose',
      seed: p.seed,
      onRunId: ctx.onRunId,
      onProgress: (fraction, stage) => ctx.progress({ stage, fraction: Math.min(0.95, fraction * 0.9) }),
    },
  );
  return table1View(dir, data.info.id, run.value.table, run.value.dirs);
}

/** Table 1 shaped for the page, with each module's kept channels. */
export function table1View(modelDir: string, datasetId: string, t: Table1, dirs: string[]): Table1View {
  return {
    modelDir,
    datasetId,
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
    ...(r.baseline_converged !== undefined ? { baselineConverged: r.baseline_converged } : {}),
    ...(r.baseline_best_epoch !== undefined ? { baselineBestEpoch: r.baseline_best_epoch } : {}),
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
    { approach: p.approach, perClass: p.perClass, baselineEpochs: p.baselineEpochs, seed: p.seed },
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
      onTraining: ctx.onTraining,
    },
  );
  return scenarioView(row);
}
