// A fake of the typed API for component tests: every method answers from `overrides` or a
// harmless default, and progress events are pushed with `emit`.
import type {
  DecomposerApi,
  EnergyFigure,
  EnergySummary,
  ExperimentSummary,
  FaultView,
  JobBase,
  JobKind,
  JobOf,
  JobResult,
  ModelSummary,
  ProgressEvent,
  RepairedSummary,
  RunDetailView,
  RunSummary,
  ScenarioView,
  WizardView,
} from '../../../core/common/api.ts';
import type { DatasetInfo } from '../../../core/common/dataset.ts';

export type FakeApi = DecomposerApi & {
  emit(e: ProgressEvent): void;
  listeners: Set<(e: ProgressEvent) => void>;
  calls: { method: string; args: unknown[] }[];
};

/** A job as listJobs gives it: a running training unless told; its `kind` types its result. */
export function job<K extends JobKind = 'train'>(
  over: Partial<JobBase> & { kind?: K; result?: JobResult<K> | null } = {},
): JobOf<K> {
  const j = {
    id: 'job-1',
    kind: 'train',
    status: 'running',
    label: 'ResNet-8 on shapes 32x32',
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: null,
    runId: 1,
    progress: { stage: 'Training epoch 1/2', fraction: 0.25 },
    etaSeconds: 42,
    epochs: [],
    power: [],
    energySource: 'estimate',
    error: null,
    result: null,
    ...over,
  };
  return j as JobOf<K>;
}

const SHAPES = ['circle', 'ring', 'square', 'star-5', 'star-6'];

/** An imported dataset as listDatasets describes it: Tiny ImageNet unless told. */
/** A finished reuse scenario of a demo (estimated energy). */
export function scenarioView(over: Partial<ScenarioView> = {}): ScenarioView {
  return {
    scenario: 'reuse',
    kind: 'intra',
    classes: ['plus', 'ring'],
    ma: 1,
    tma: 0.9,
    testImages: 40,
    co2eRatioFixed: 30,
    co2eRatioBest: 12,
    co2eRatioFixedWithDecomposition: 3,
    co2eRatioBestWithDecomposition: 1.2,
    reuseCo2eKg: 1e-6,
    decompositionCo2eKg: 2e-5,
    baselineFixedCo2eKg: 3e-5,
    baselineBestCo2eKg: 1.2e-5,
    estimated: true,
    ...over,
  };
}

/** A finished demo experiment as listExperiments gives it. */
export function experimentSummary(over: Partial<ExperimentSummary> = {}): ExperimentSummary {
  return {
    id: 4,
    kind: 'demo',
    label: 'Demo: ResNet-8 on shapes',
    status: 'finished',
    createdAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:10:00.000Z',
    runCount: 3,
    kwh: 0.002,
    co2eKg: 0.0009,
    co2eLbs: 0.002,
    estimatedRuns: 3,
    ...over,
  };
}

/** A finished trained model as listModels gives it. */
export function modelSummary(over: Partial<ModelSummary> = {}): ModelSummary {
  return {
    runId: 1,
    dir: '/m/1',
    dataset: 'shapes',
    depth: 8,
    epochs: 1,
    bestEpoch: 1,
    top1: 0.5,
    top5: 0.9,
    status: 'finished',
    energy: null,
    classNames: ['circle', 'ring', 'square'],
    inputSize: 32,
    datasetId: 'synthetic-shapes-32-s1-20x10',
    source: null,
    ...over,
  };
}

export function datasetInfo(over: Partial<DatasetInfo> = {}): DatasetInfo {
  return {
    id: 'tinyimagenet-0123456789ab',
    kind: 'tinyimagenet',
    name: 'Tiny ImageNet',
    imageSize: 64,
    classNames: Array.from({ length: 200 }, (_, i) => `class-${i}`),
    trainCount: 100_000,
    testCount: 10_000,
    source: '/data/tiny-imagenet-200',
    ...over,
  };
}

/** A small model's test results: star-5 (3) mostly predicted as star-6 (4). */
export function faultView(over: Partial<FaultView> = {}): FaultView {
  return {
    dir: '/home/models/run-1',
    kind: 'model',
    datasetId: 'synthetic:shapes:32',
    datasetName: 'shapes 32x32',
    classNames: SHAPES,
    testImages: 50,
    top1: 0.72,
    top5: 1,
    matrix: [
      [10, 0, 0, 0, 0],
      [1, 9, 0, 0, 0],
      [0, 0, 10, 0, 0],
      [0, 0, 1, 3, 6],
      [0, 0, 0, 1, 9],
    ],
    suggested: { faulty: 4, victim: 3, rate: 0.6 },
    ...over,
  };
}

const acc = (top1: number, confusion: number) => ({ top1, top5: 1, confusion, otherTop1: 0.95 });
const part = (seconds: number, co2eKg: number) => ({ seconds, co2eKg });

/** A finished wizard's comparison: options 2 and 3 ran, 1 was skipped, 2 recommended. */
export function wizardView(over: Partial<WizardView> = {}): WizardView {
  return {
    modelDir: '/home/models/run-1',
    datasetId: 'synthetic:shapes:32',
    classes: SHAPES,
    faulty: { index: 4, name: 'star-6' },
    victim: { index: 3, name: 'star-5' },
    testImages: 50,
    initial: acc(0.72, 0.6),
    composed: acc(0.7, 0.6),
    decomposition: { seconds: 3, co2eKg: 0.0001, estimated: true },
    options: [
      {
        option: 2,
        label: 'replace with a two-class model’s module',
        ...acc(0.84, 0.1),
        seconds: 20,
        co2eKg: 0.0004,
        co2eLbs: 0.00088,
        parts: { train: part(15, 0.0003), decompose: part(4, 0.00008), run: part(1, 0.00002) },
        estimated: true,
      },
      {
        option: 3,
        label: 'remove the faulty module',
        ...acc(0.7, 0),
        seconds: 1,
        co2eKg: 0.00002,
        co2eLbs: 0.000044,
        parts: { train: part(0, 0), decompose: part(0, 0), run: part(1, 0.00002) },
        estimated: true,
        note: 'star-6 is never predicted',
      },
    ],
    skipped: [{ option: 1, reason: 'no better model was given' }],
    recommendation: { option: 2, reason: 'Option 2: confusion 10.0% with top-1 84.0%.' },
    ...over,
  };
}

export function repairedSummary(over: Partial<RepairedSummary> = {}): RepairedSummary {
  return {
    name: 'repaired-star-6-option-2',
    dir: '/home/repaired/repaired-star-6-option-2',
    createdAt: '2026-01-01T00:00:00.000Z',
    kind: 'modules',
    option: 2,
    label: 'replace with a two-class model’s module',
    classNames: SHAPES,
    model: '/home/models/run-1',
    datasetId: 'synthetic:shapes:32',
    faulty: { index: 4, name: 'star-6' },
    victim: { index: 3, name: 'star-5' },
    accuracy: acc(0.84, 0.1),
    initial: acc(0.72, 0.6),
    ...over,
  };
}

/** An energy figure by the paper's formula (PUE 1.58, 0.954 lbs/kWh), measured by RAPL unless told. */
export function energyFigure(over: Partial<EnergyFigure> = {}): EnergyFigure {
  return {
    source: 'rapl',
    seconds: 30,
    cpu_w: 12.5,
    dram_w: 1.5,
    gpu_w: 0,
    gpus: 0,
    idle_w: 8,
    pue: 1.58,
    kwh: 0.000184,
    intensity_lbs_per_kwh: 0.954,
    co2e_lbs: 0.000176,
    co2e_kg: 0.0000797,
    attribution: 'process',
    run_cpu_s: 45,
    busy_cpu_s: 50,
    capacity_cpu_s: 60,
    ...over,
  };
}

/** A finished two-epoch training run (#7), best at epoch 2, measured. */
export function runSummary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    id: 7,
    kind: 'train',
    label: 'ResNet-8 on shapes 32x32 (100 images), 2 epochs',
    experimentId: 3,
    experimentKind: 'training',
    role: 'model',
    scenario: null,
    status: 'finished',
    error: null,
    params: {
      dataset: 'synthetic:shapes:32',
      depth: 8,
      epochs: 2,
      seed: 1,
      augment: false,
      batchSize: 16,
      run_dir: '/home/runs/synthetic-shapes-32-r8-s1',
    },
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:30.000Z',
    seconds: 30,
    backend: 'wasm',
    epochsDone: 2,
    bestEpoch: 2,
    result: {
      epochs_done: 2,
      best_epoch: 2,
      top1: 0.64,
      top5: 1,
      model_dir: '/home/runs/synthetic-shapes-32-r8-s1/model',
      resumed_from: 0,
    },
    energy: energyFigure(),
    energyFixedEpochs: energyFigure(),
    energyUntilBest: energyFigure({ seconds: 30, kwh: 0.000184 }),
    ...over,
  };
}

export function runDetail(over: Partial<RunDetailView> = {}): RunDetailView {
  return {
    ...runSummary(),
    epochs: [
      { epoch: 1, loss: 1.52, accuracy: 0.31, valAccuracy: 0.4, seconds: 14, best: false },
      { epoch: 2, loss: 1.21, accuracy: 0.52, valAccuracy: 0.6, seconds: 15, best: true },
    ],
    power: [
      { t: 0.5, cpuW: 20, dramW: 2, gpuW: 0 },
      { t: 1, cpuW: 21, dramW: 2.1, gpuW: 0 },
      { t: 1.5, cpuW: 19.5, dramW: 2, gpuW: 0 },
    ],
    powerSources: ['RAPL: used: package-0, dram.', 'nvidia-smi: not usable: nvidia-smi not found.'],
    continuedBy: null,
    ...over,
  };
}

/** The energy summary of these runs (every one "training from scratch" unless its kind says otherwise). */
export function energySummary(runs: RunSummary[]): EnergySummary {
  const rows = runs.map((r) => ({
    runId: r.id,
    kind: r.kind,
    label: r.label ?? r.kind,
    status: r.status,
    series: r.kind === 'train' || r.kind === 'demo' ? 'training from scratch' : r.kind,
    measured: !(r.energy?.source ?? 'estimate').startsWith('estimate'),
    source: r.energy?.source ?? 'none',
    attribution: r.energy?.attribution ?? 'machine',
    kwh: r.energy?.kwh ?? 0,
    co2eKg: r.energy?.co2e_kg ?? 0,
    fixedEpochs: r.energyFixedEpochs
      ? { kwh: r.energyFixedEpochs.kwh, co2eKg: r.energyFixedEpochs.co2e_kg }
      : null,
    untilBest: r.energyUntilBest ? { kwh: r.energyUntilBest.kwh, co2eKg: r.energyUntilBest.co2e_kg } : null,
  }));
  const kwh = rows.reduce((a, r) => a + r.kwh, 0);
  const co2eKg = rows.reduce((a, r) => a + r.co2eKg, 0);
  return {
    totals: {
      kwh,
      co2eKg,
      co2eLbs: co2eKg / 0.45359237,
      estimatedRuns: rows.filter((r) => !r.measured).length,
      runs: rows.length,
    },
    runs: rows,
  };
}

export function fakeApi(overrides: Partial<DecomposerApi> = {}): FakeApi {
  const listeners = new Set<(e: ProgressEvent) => void>();
  const calls: FakeApi['calls'] = [];
  const defaults: Omit<DecomposerApi, 'onProgress'> = {
    getSystemInfo: async () => {
      throw new Error('not in this test');
    },
    listDatasets: async () => [],
    previewDataset: async (id) => ({ datasetId: id, classNames: [], images: [] }),
    downloadDataset: async () => job({ kind: 'download' }),
    importDataset: async () => job({ kind: 'import' }),
    pickPath: async () => null,
    listRuns: async () => [],
    listExperiments: async () => [],
    getExperiment: async (id) => {
      throw new Error(`no experiment ${id} in this fake`);
    },
    getRun: async () => {
      throw new Error('no run');
    },
    listModels: async () => [],
    importModel: async () => {
      throw new Error('not in this test');
    },
    startTraining: async () => job(),
    resumeTraining: async (runId) => job({ id: 'job-resume', label: `Resume run ${runId}` }),
    runDemo: async () => job({ kind: 'demo', id: 'job-demo' }),
    cancelJob: async () => true,
    listJobs: async () => [],
    getSettings: async () => {
      throw new Error('not in this test');
    },
    setSetting: async () => {
      throw new Error('not in this test');
    },
    startDecomposition: async () => job({ kind: 'decompose', id: 'job-decompose' }),
    listModuleSets: async () => [],
    exportModulesOnnx: async (setDir, outDir) => ({
      dir: outDir,
      modules: [
        { classIndex: 0, className: 'circle', file: `${outDir}/module-0-circle.onnx`, bytes: 1_100_000 },
      ],
      composed: { file: `${outDir}/composed.onnx`, bytes: 1_300_000, classes: ['circle'] },
    }),
    startScenario: async () => job({ kind: 'scenario', id: 'job-scenario' }),
    analyzeFault: async (dir) => faultView({ dir }),
    startFaultyDemo: async () => job({ kind: 'faulty', id: 'job-faulty', label: 'Faulty demo model' }),
    startWizard: async () => job({ kind: 'wizard', id: 'job-wizard', label: 'Fix-it wizard' }),
    saveRepair: async (p) =>
      repairedSummary({ name: p.name, option: p.option, dir: `/home/repaired/${p.name}` }),
    listRepaired: async () => [],
    getEnergySummary: async () => ({
      totals: { kwh: 0, co2eKg: 0, co2eLbs: 0, estimatedRuns: 0, runs: 0 },
      runs: [],
    }),
  };
  const api = { ...defaults, ...overrides } as Record<string, unknown>;
  for (const [k, fn] of Object.entries(api))
    api[k] = (...args: unknown[]) => {
      calls.push({ method: k, args });
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  return Object.assign(api as unknown as DecomposerApi, {
    listeners,
    calls,
    emit: (e: ProgressEvent) => {
      for (const l of listeners) l(e);
    },
    onProgress: (l: (e: ProgressEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  });
}
