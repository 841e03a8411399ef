// Store rows and workflow results as the view types of core/common: what the app's pages
// show, what the jobs return and what the CLI prints, shaped in one place.
import {
  isEstimatedSource,
  runPurpose,
  type ExperimentSummary,
  type JobStatus,
  type ModuleMaskView,
  type ModuleView,
  type RepairedSummary,
  type RunMachineView,
  type RunSummary,
  type ScenarioView,
  type Table1View,
  type WizardAccuracy,
  type WizardOptionView,
  type WizardView,
} from '../common/api.ts';
import type { WizardOption } from '../common/wizard.ts';
import type { ModuleData, ModuleSet, Table1 } from './decompose/index.ts';
import type { RepairedManifest } from './wizard/repaired-manifest.ts';
import type { ExperimentRow } from './store/experiments.ts';
import type { RunRow } from './store/run-rows.ts';
import { addCosts, type Cost } from './workflows/costs.ts';
import type { ScenarioRow } from './workflows/grid.ts';
import { aboveFloor, co2eRatio, MIXED_ATTRIBUTION } from '../common/energy.ts';
import type { Accuracy, WizardResult } from './workflows/wizard.ts';

export function toExperimentSummary(e: ExperimentRow): ExperimentSummary {
  return {
    id: e.id,
    kind: e.kind,
    label: e.label,
    status: e.status as JobStatus,
    createdAt: e.created_at,
    endedAt: e.ended_at,
    runCount: e.runs,
    kwh: e.kwh,
    co2eKg: e.co2e_kg,
    co2eLbs: e.co2e_lbs,
    estimatedRuns: e.estimated_runs,
  };
}

/** The machines runs came from, each with how many (runs recorded without one are left out). */
export function machinesOfRuns(runs: RunRow[]): RunMachineView[] {
  const by = new Map<number, RunMachineView>();
  for (const r of runs) {
    if (!r.machine) continue;
    const m = by.get(r.machine.id) ?? {
      hostname: r.machine.hostname,
      cpuModel: r.machine.cpu_model,
      runs: 0,
    };
    m.runs++;
    by.set(r.machine.id, m);
  }
  return [...by.values()].sort((a, b) => a.hostname.localeCompare(b.hostname));
}

export function toRunSummary(r: RunRow): RunSummary {
  return {
    id: r.id,
    // The demo's own trainings show as the demo's.
    kind: runPurpose({ ...r, experimentKind: r.experiment_kind }).job === 'demo' ? 'demo' : r.kind,
    label: r.label,
    experimentId: r.experiment_id,
    experimentKind: r.experiment_kind,
    role: r.role,
    scenario: r.scenario,
    status: r.status as JobStatus,
    error: r.error,
    params: r.params,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    seconds: r.seconds,
    backend: r.backend,
    epochsDone: r.epochs_done,
    bestEpoch: r.best_epoch,
    result: r.result,
    energy: r.energy,
    energyFixedEpochs: r.energy_fixed_epochs,
    energyUntilBest: r.energy_until_best,
  };
}

export function scenarioView(r: ScenarioRow): ScenarioView {
  const c = r.cost;
  const reuse = c.build.co2e_kg + c.predict.co2e_kg;
  // The ratios again from the costs, by the one rule (common/energy.ts co2eRatio), so a row
  // stored by an older version is judged as a new one is.
  const reuseSide = addCosts(c.build, c.predict);
  const withDecomposition = addCosts(reuseSide, c.decomposition);
  const fixed = addCosts(c.baseline_fixed, c.baseline_predict);
  const best = addCosts(c.baseline_best, c.baseline_predict);
  const parts = [c.build, c.predict, c.baseline_fixed, c.baseline_predict];
  const attributions = new Set(
    parts.filter((x) => x.source !== 'none').map((x) => x.attribution ?? 'machine'),
  );
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
    co2eRatioFixed: co2eRatio(fixed, reuseSide),
    co2eRatioBest: co2eRatio(best, reuseSide),
    co2eRatioFixedWithDecomposition: co2eRatio(fixed, withDecomposition),
    co2eRatioBestWithDecomposition: co2eRatio(best, withDecomposition),
    reuseCo2eKg: reuse,
    decompositionCo2eKg: c.decomposition.co2e_kg,
    baselineFixedCo2eKg: c.baseline_fixed.co2e_kg + c.baseline_predict.co2e_kg,
    baselineBestCo2eKg: c.baseline_best.co2e_kg + c.baseline_predict.co2e_kg,
    estimated: [c.build, c.predict, c.baseline_fixed].some((x) => isEstimatedSource(x.source)),
    attribution: attributions.size > 1 ? MIXED_ATTRIBUTION : ([...attributions][0] ?? 'machine'),
    reuseBelowFloor: !aboveFloor(reuseSide),
    baselineBelowFloor: !aboveFloor(best),
    crowdedSides: [
      ...(reuseSide.crowded ? (['reuse'] as const) : []),
      ...(fixed.crowded ? (['baseline'] as const) : []),
    ],
    ...(r.baseline_converged !== undefined ? { baselineConverged: r.baseline_converged } : {}),
    ...(r.baseline_best_epoch !== undefined ? { baselineBestEpoch: r.baseline_best_epoch } : {}),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Per mask layer, the kept fraction of each channel ([H, W, C] is stored channel last). */
function maskSummary(set: ModuleSet, m: ModuleData): ModuleMaskView[] {
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

export const accuracyView = (a: Accuracy): WizardAccuracy => ({
  top1: a.top1,
  top5: a.top5,
  confusion: a.confusion,
  otherTop1: a.other_top1,
});
const costView = (c: Cost) => ({ seconds: c.seconds, co2eKg: c.co2e_kg });
const estimated = (c: Cost) => isEstimatedSource(c.source);

export function wizardView(r: WizardResult): WizardView {
  const options: WizardOptionView[] = r.options.map((o) => ({
    option: o.option as WizardOption,
    label: o.label,
    ...accuracyView(o),
    seconds: o.seconds,
    co2eKg: o.cost.total.co2e_kg,
    co2eLbs: o.co2e_lbs,
    parts: {
      train: costView(o.cost.train),
      decompose: costView(o.cost.decompose),
      run: costView(o.cost.run),
    },
    estimated: [o.cost.train, o.cost.decompose, o.cost.run].some((c) => c.seconds > 0 && estimated(c)),
    ...(o.note ? { note: o.note } : {}),
  }));
  return {
    modelDir: r.model,
    datasetId: r.dataset,
    classes: r.classes,
    faulty: r.faulty,
    victim: r.victim,
    testImages: r.test_images,
    initial: accuracyView(r.initial),
    composed: accuracyView(r.composed),
    decomposition: { ...costView(r.decomposition), estimated: estimated(r.decomposition) },
    options,
    skipped: r.skipped.map((x) => ({ option: x.option as WizardOption, reason: x.reason })),
    recommendation: r.recommendation
      ? { option: r.recommendation.option as WizardOption, reason: r.recommendation.reason }
      : null,
    ...(r.pair_train ? { pairTrain: r.pair_train } : {}),
  };
}

/** A saved repaired classifier (its absolute folder and its manifest) as the app lists it. */
export function repairedView(dir: string, m: RepairedManifest): RepairedSummary {
  const h = m.history ?? {};
  return {
    name: m.name,
    dir,
    createdAt: m.createdAt,
    kind: m.kind,
    option: h.option ?? null,
    label: h.label ?? null,
    classNames: m.classNames,
    model: h.model ?? null,
    datasetId: h.dataset ?? null,
    faulty: h.faulty ?? null,
    victim: h.victim ?? null,
    accuracy: h.accuracy ? accuracyView(h.accuracy) : null,
    initial: h.initial ? accuracyView(h.initial) : null,
  };
}
