// The one typed API the renderer talks to. The Electron preload exposes it over IPC and the
// web shell bridges it over HTTP and Server-Sent Events; the renderer does not know which is behind it.
import type { DatasetInfo, Progress } from './dataset.ts';
import { isUserError, UserError } from './errors.ts';
import { isResNetDepth, RESNET_DEPTH_RULE } from './rules.ts';
import { WIZARD_OPTIONS, type WizardOption } from './wizard.ts';

/** The tfjs backends (model building, and training where onnxruntime cannot). */
export type TfjsBackendName = 'tensorflow' | 'wasm' | 'cpu';
/** Training engines: onnxruntime's training graphs, else a tfjs backend. */
export type BackendName = 'onnxruntime' | TfjsBackendName;

export interface BackendStatus {
  name: BackendName;
  /** Whether this backend loaded on this machine. */
  ok: boolean;
  /** Why it did not load, or why it was not chosen. */
  reason?: string;
}

export interface BackendReport {
  /** The backend training runs on. */
  active: BackendName;
  /** Set when the user forced a backend (setting or DECOMPOSER_BACKEND). */
  forced: BackendName | null;
  /** Every backend in order of preference, with why the faster ones are not active. */
  candidates: BackendStatus[];
  /** onnxruntime: the device it trains on, its execution provider, and why not a GPU. */
  device?: { active: 'cpu' | 'gpu'; provider: string; reason?: string };
}

export interface SystemInfo {
  app: string;
  version: string;
  node: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  memoryBytes: number;
  backend: BackendReport;
}

// ---- Jobs ----

export type JobKind =
  'train' | 'demo' | 'download' | 'import' | 'decompose' | 'scenario' | 'faulty' | 'wizard';
export type JobStatus = 'running' | 'finished' | 'failed' | 'cancelled' | 'interrupted';
/** Jobs that train models: the core runs one at a time (two would halve each other's speed and skew their energy). */
export const TRAINING_JOB_KINDS: readonly JobKind[] = ['train', 'demo', 'faulty', 'wizard', 'scenario'];
export const JOB_STATUSES: readonly JobStatus[] = [
  'running',
  'finished',
  'failed',
  'cancelled',
  'interrupted',
];

/** One finished training epoch. */
export interface EpochMetrics {
  epoch: number;
  epochs: number;
  loss: number;
  accuracy: number;
  valAccuracy: number;
  seconds: number;
  best: boolean;
}

/** Power over the last interval, W (CPU package, DRAM, all GPUs), t seconds since the job started. */
export interface PowerSample {
  t: number;
  cpuW: number;
  dramW: number;
  gpuW: number;
}

export interface JobInfo {
  id: string;
  kind: JobKind;
  status: JobStatus;
  label: string;
  startedAt: string;
  endedAt: string | null;
  /** The run recorded in the store (training jobs). */
  runId: number | null;
  progress: Progress | null;
  /** Seconds left, when known. */
  etaSeconds: number | null;
  epochs: EpochMetrics[];
  /** The most recent power samples (at most a few hundred). */
  power: PowerSample[];
  /** Which power source the energy figures come from; "estimate" means no counter was readable. */
  energySource: string | null;
  error: string | null;
  /** What the job made: a model folder, a dataset id, a file. */
  result: {
    modelDir?: string;
    top1?: number;
    top5?: number;
    datasetId?: string;
    path?: string;
    /** Decomposition jobs: Table 1 for the model. */
    table1?: Table1View;
    /** Reuse and replace jobs: the scenario's row. */
    scenario?: ScenarioView;
    /** The demo job: its reuse and replace scenarios (one intra and one inter of each). */
    scenarios?: ScenarioView[];
    /** Faulty demo model jobs: the clean model trained beside it (option 1's better model), and the fault. */
    betterDir?: string;
    fault?: FaultMade;
    /** Wizard jobs: the comparison (Table 6) and the recommendation. */
    wizard?: WizardView;
  } | null;
}

// ---- Decomposition and reuse ----

export const DECOMPOSE_APPROACHES = ['CI+TI+MC', 'CI+TI+MC-BLN', 'CI+TI+MC-BLN+MC-BI'] as const;
export type DecomposeApproach = (typeof DECOMPOSE_APPROACHES)[number];

export interface DecomposeParams {
  /** The model's folder (ModelSummary.dir). */
  modelDir: string;
  approaches: DecomposeApproach[];
  /** MC-BLN threshold δ. */
  delta: number;
  /** Concerned training images per class observed. */
  perClass: number;
  seed: number;
  /** Where activity is observed: ReLU inputs (default) or Conv2D outputs. */
  point: 'relu' | 'conv' | 'conv-skip-add';
  /** A dataset id; null or absent: the one the model was trained on. */
  dataset?: string | null;
}

/** One module's masks, summarised per mask layer: the kept fraction of each channel (or unit). */
export interface ModuleMaskView {
  layer: string;
  /** [H, W, C] or [units]. */
  shape: number[];
  keptByChannel: number[];
}

export interface ModuleView {
  classIndex: number;
  className: string;
  ji: number;
  kept: number;
  total: number;
  masks: ModuleMaskView[];
}

export interface Table1View {
  modelDir: string;
  datasetId: string;
  testImages: number;
  model: { top1: number; top5: number; evalSeconds: number };
  rows: {
    approach: string;
    top1: number;
    top5: number;
    /** Mean over modules of |kept| / |all| positions (each module against the model). */
    ji: number;
    /** Mean over pairs of modules of the Jaccard index of their kept positions. */
    jiModules: number;
    seconds: number;
    evalSeconds: number;
    /** Where the module set was saved. */
    dir: string | null;
    modules: ModuleView[];
  }[];
  warnings: string[];
}

export interface ModuleSetSummary {
  runId: string;
  dir: string;
  createdAt: string;
  approach: string;
  modules: number;
  meanJi: number;
}

/** One class of a scenario: class `classIndex` of model `source` (0: the first model, 1: the second). */
export interface ScenarioPick {
  source: number;
  classIndex: number;
}

export interface ScenarioParams {
  kind: 'reuse' | 'replace';
  /** One or two model folders. */
  models: string[];
  /** Reuse: the classes composed, in label order (at least 2). */
  classes?: ScenarioPick[];
  /** Replace: model A's class whose module is replaced, and the module that replaces it (from model B). */
  replaced?: number;
  replacement?: ScenarioPick;
  approach: DecomposeApproach;
  perClass: number;
  baselineEpochs: number;
  seed: number;
}

/** A finished scenario: accuracies (fractions) and CO2e ratios (baseline over reuse). */
export interface ScenarioView {
  scenario: 'reuse' | 'replace';
  kind: 'intra' | 'inter';
  classes: string[];
  ma?: number;
  mma?: number;
  top1?: number;
  top5?: number;
  modelTop1?: number;
  modelTop5?: number;
  tma: number;
  testImages: number;
  co2eRatioFixed: number | null;
  co2eRatioBest: number | null;
  co2eRatioFixedWithDecomposition: number | null;
  co2eRatioBestWithDecomposition: number | null;
  reuseCo2eKg: number;
  decompositionCo2eKg: number;
  baselineFixedCo2eKg: number;
  baselineBestCo2eKg: number;
  estimated: boolean;
  /** False when the baseline was still improving when it stopped (its ratio is flagged). */
  baselineConverged?: boolean;
  /** The baseline's best validation epoch. */
  baselineBestEpoch?: number;
}

/** A typed payload carried by a progress event. */
export type JobPayload =
  | { type: 'status'; job: JobInfo }
  | {
      type: 'batch';
      epoch: number;
      batch: number;
      batches: number;
      loss: number;
      accuracy: number;
      imagesPerSecond: number;
      etaSeconds: number;
    }
  | { type: 'epoch'; metrics: EpochMetrics }
  | { type: 'power'; sample: PowerSample };

export interface TrainParams {
  /** A dataset id from listDatasets. */
  dataset: string;
  /** ResNet depth 6n+2 (8, 14, 20, 32, 56). */
  depth: number;
  epochs: number;
  seed: number;
  augment: boolean;
  /** Embedded datasets only: training images per class (null: the dataset's default). */
  perClass?: number | null;
  batchSize?: number | null;
}

export interface DemoParams {
  epochs?: number;
  depth?: number;
  perClass?: number;
  /** Go on to the reuse and replace scenarios with their baselines (default true). */
  scenarios?: boolean;
}

// ---- The fix-it wizard (the paper's Figure 1 and Table 6) ----

/** How a model (or a saved repaired classifier) does on a dataset's test set, and its most-confused pair. */
export interface FaultView {
  dir: string;
  /** 'repaired': a classifier saved by the wizard. */
  kind: 'model' | 'repaired';
  datasetId: string;
  datasetName: string;
  classNames: string[];
  testImages: number;
  top1: number;
  top5: number;
  /** Counts: row = true class, column = predicted class. */
  matrix: number[][];
  /** The off-diagonal cell with the highest rate: that share of the victim's images is predicted as faulty. */
  suggested: { faulty: number; victim: number; rate: number };
}

/** A faulty model made from the embedded dataset: part of one class's training images labelled as a similar class. */
export interface FaultyDemoParams {
  depth?: number;
  epochs?: number;
  perClass?: number;
  /** The share of the victim's training images relabelled (default 0.6). */
  fraction?: number;
  /** Also train a clean model of the same data, to serve as option 1's better model (default true). */
  better?: boolean;
}

export interface FaultMade {
  victim: number;
  faulty: number;
  victimName: string;
  faultyName: string;
  fraction: number;
  /** How many training images were relabelled. */
  relabelled: number;
  /** The share of the victim's test images each model predicts as the faulty class: the fault, measured. */
  confusion: number;
  cleanConfusion: number | null;
}

export interface WizardParams {
  modelDir: string;
  /** The dataset to judge and decompose on (null or absent: the model's own, with true labels). */
  dataset?: string | null;
  faulty: number;
  victim: number;
  options: WizardOption[];
  /** Option 1: a better model of the same classes, or (when null) train one for betterEpochs. */
  betterModel?: string | null;
  betterEpochs?: number | null;
  /** Option 2 and 4's two-class model. */
  pairDepth: number;
  pairEpochs: number;
  /** Images per class each decomposition observes. */
  perClass: number;
  seed: number;
}

/** Fractions in [0, 1]; confusion = the victim's test images predicted as the faulty class. */
export interface WizardAccuracy {
  top1: number;
  top5: number;
  confusion: number;
  /** Top-1 on the classes other than the pair. */
  otherTop1: number;
}

export interface WizardOptionView extends WizardAccuracy {
  option: WizardOption;
  label: string;
  seconds: number;
  co2eKg: number;
  co2eLbs: number;
  /** What the option's cost is made of (seconds, kg CO2e). */
  parts: {
    train: { seconds: number; co2eKg: number };
    decompose: { seconds: number; co2eKg: number };
    run: { seconds: number; co2eKg: number };
  };
  estimated: boolean;
  note?: string;
}

export interface WizardView {
  modelDir: string;
  datasetId: string;
  classes: string[];
  faulty: { index: number; name: string };
  victim: { index: number; name: string };
  testImages: number;
  initial: WizardAccuracy;
  composed: WizardAccuracy;
  decomposition: { seconds: number; co2eKg: number; estimated: boolean };
  options: WizardOptionView[];
  skipped: { option: WizardOption; reason: string }[];
  recommendation: { option: WizardOption; reason: string } | null;
  /** Option 2/4's two-class model: its training images, the two classes, its test top-1 on them. */
  pairTrain?: { images: number; classes: number[]; top1: number };
}

export interface SaveRepairParams {
  /** The finished wizard job. */
  jobId: string;
  option: WizardOption;
  /** The folder name under the data folder's repaired/ (letters, digits, . _ -). */
  name: string;
}

/** A repaired classifier saved by the wizard: usable like a model (evaluate it with analyzeFault). */
export interface RepairedSummary {
  name: string;
  dir: string;
  createdAt: string;
  kind: 'modules' | 'verify';
  option: number | null;
  label: string | null;
  classNames: string[];
  /** The model it repairs, and the pair. */
  model: string | null;
  datasetId: string | null;
  faulty: { index: number; name: string } | null;
  victim: { index: number; name: string } | null;
  accuracy: WizardAccuracy | null;
  initial: WizardAccuracy | null;
}

export type ImportKind = 'cifar10' | 'cifar100' | 'tinyimagenet' | 'folder';
/** One more source whose classes are added to an imported dataset. */
export interface ImportPart {
  kind: ImportKind;
  path: string;
}
/** The most sources `ImportSpec.extra` may add. */
export const MAX_IMPORT_EXTRA = 8;
export interface ImportSpec {
  kind: ImportKind;
  path: string;
  /** Folders only: the input size the images are resized to. */
  size?: 32 | 64;
  /**
   * Sources whose classes come after the main one's, all as one combined dataset (e.g. Tiny
   * ImageNet plus a folder with person/ and gorilla/: the paper's 202 classes). Folders are
   * resized to the size of the first source whose size is fixed (Tiny ImageNet 64, CIFAR 32),
   * else to `size`. At most MAX_IMPORT_EXTRA; none or an empty list imports the main source alone.
   */
  extra?: ImportPart[];
}

export const DOWNLOADABLE_DATASETS = [
  'cifar10',
  'cifar100',
  'tinyimagenet',
  'mnist',
  'fashion-mnist',
  'kmnist',
  'emnist',
] as const;
export type DownloadableDataset = (typeof DOWNLOADABLE_DATASETS)[number];

export interface DatasetPreview {
  datasetId: string;
  classNames: string[];
  /** PNG data URLs, `perClass` per class (fewer when a class has fewer images). */
  images: { label: number; src: string }[];
}

/**
 * A run's energy by the paper's formula, as stored with a run. `source` names what made the
 * figure ("rapl", "nvidia-smi", "powermetrics", "estimate", or a combination); "estimate…"
 * means estimated, not measured.
 */
export interface EnergyFigure {
  source: string;
  seconds: number;
  /** Average CPU package power over the run minus idle (p_c), W. */
  cpu_w: number;
  /** Average DRAM power minus idle (p_r), W. */
  dram_w: number;
  /** Average power per GPU minus idle (p_g), W. */
  gpu_w: number;
  /** g: the number of GPUs measured. */
  gpus: number;
  /** The idle power subtracted (CPU + DRAM + all GPUs), W. */
  idle_w: number;
  pue: number;
  kwh: number;
  intensity_lbs_per_kwh: number;
  co2e_lbs: number;
  co2e_kg: number;
}

/**
 * Whether an energy figure is (at least partly) estimated rather than measured: no source,
 * 'none', or any '+'-joined part an estimate ("estimate+nvidia-smi", or "rapl+estimate" for a
 * resumed run whose earlier attempt was estimated).
 */
export function isEstimatedSource(source: string | null | undefined): boolean {
  return !source || source === 'none' || source.split('+').some((p) => p.startsWith('estimate'));
}

/** What a run does in its experiment. */
export const RUN_ROLES = [
  'model',
  'baseline',
  'decomposition',
  'evaluation',
  'reuse',
  'replace',
  'option',
] as const;
export type RunRole = (typeof RUN_ROLES)[number];

/** What an experiment is: the runs made together for one purpose. */
export const EXPERIMENT_KINDS = [
  'demo',
  'grid',
  'scenario',
  'wizard',
  'training',
  'decomposition',
  'evaluation',
] as const;
export type ExperimentKind = (typeof EXPERIMENT_KINDS)[number];

export interface ExperimentSummary {
  id: number;
  kind: ExperimentKind;
  label: string;
  /** From its runs: running while one runs, else the worst ending. */
  status: JobStatus;
  createdAt: string;
  endedAt: string | null;
  runCount: number;
  kwh: number;
  co2eKg: number;
  co2eLbs: number;
  /** Runs whose energy is the documented estimate (no power counter). */
  estimatedRuns: number;
}

export interface ExperimentDetailView extends ExperimentSummary {
  params: unknown;
  /** Its runs, oldest first, each with its role. */
  runs: RunSummary[];
  /** The reuse and replace scenarios its runs finished, in that order. */
  scenarios: ScenarioView[];
}

export interface RunSummary {
  id: number;
  kind: string;
  label: string | null;
  /** The experiment the run belongs to, its role there, and the scenario it serves. */
  experimentId: number | null;
  role: RunRole | null;
  scenario: string | null;
  status: JobStatus;
  error: string | null;
  params: unknown;
  startedAt: string;
  endedAt: string | null;
  seconds: number | null;
  backend: string | null;
  epochsDone: number;
  bestEpoch: number | null;
  result: unknown;
  energy: EnergyFigure | null;
  energyFixedEpochs: EnergyFigure | null;
  energyUntilBest: EnergyFigure | null;
}

export interface RunDetailView extends RunSummary {
  epochs: {
    epoch: number;
    loss: number | null;
    accuracy: number | null;
    valAccuracy: number | null;
    seconds: number | null;
    best: boolean;
  }[];
  /** The power trace, downsampled. */
  power: PowerSample[];
  powerSources: string[];
}

export interface ModelSummary {
  runId: number;
  dir: string;
  dataset: string;
  depth: number | null;
  epochs: number;
  bestEpoch: number | null;
  top1: number | null;
  top5: number | null;
  status: JobStatus;
  energy: EnergyFigure | null;
  /** From the model's meta (null when it has none). */
  classNames: string[] | null;
  inputSize: number | null;
  datasetId: string | null;
}

export interface EnergySummary {
  totals: {
    kwh: number;
    co2eKg: number;
    co2eLbs: number;
    /** Runs whose figures are estimates (no power counter). */
    estimatedRuns: number;
    runs: number;
  };
  runs: {
    runId: number;
    kind: string;
    label: string;
    status: JobStatus;
    /** Which series the run belongs to; reuse/replace scenarios add theirs later. */
    series: string;
    measured: boolean;
    source: string;
    kwh: number;
    co2eKg: number;
    /** Training from scratch: energy through the fixed epochs and until the best epoch. */
    fixedEpochs: { kwh: number; co2eKg: number } | null;
    untilBest: { kwh: number; co2eKg: number } | null;
  }[];
}

export interface AppSettings {
  pue: number;
  intensity: number;
  sampleIntervalMs: number;
  idleSeconds: number;
  powercapRoot: string;
  nvidiaSmi: string;
  /** Baselines trained from scratch stop when validation accuracy has not improved for this many epochs... */
  baselinePatience: number;
  /** ...or after this many epochs. */
  baselineMaxEpochs: number;
  /** Training backend: auto or a forced one. */
  backend: 'auto' | BackendName;
  /** Engine worker threads (null: one per core). */
  workers: number | null;
  /** The data folder (set with DECOMPOSER_HOME or --home; read only here). */
  dataHome: string;
}
export type SettingKey = Exclude<keyof AppSettings, 'dataHome'>;
export const SETTING_NAMES: readonly SettingKey[] = [
  'pue',
  'intensity',
  'sampleIntervalMs',
  'idleSeconds',
  'powercapRoot',
  'nvidiaSmi',
  'baselinePatience',
  'baselineMaxEpochs',
  'backend',
  'workers',
];

/**
 * Settings that name a program the core runs. Whoever can call the API (the renderer, a page
 * holding the web shell's token) must not choose what runs as the user, so these are set only
 * on the command line or in the environment, never through the API or the store.
 */
export const PROGRAM_SETTINGS: Readonly<Partial<Record<SettingKey, { flag: string; env: string }>>> = {
  nvidiaSmi: { flag: '--nvidia-smi', env: 'DECOMPOSER_NVIDIA_SMI' },
};

/** Why a program setting cannot be set here, or null for any other setting. */
export function programSettingRefusal(key: string): string | null {
  const p = PROGRAM_SETTINGS[key as SettingKey];
  return p
    ? `${key} names a program Decomposer runs, so the app cannot set it; set it on the command line (${p.flag}) or with the environment variable ${p.env} before starting Decomposer`
    : null;
}

export interface DecomposerApi {
  getSystemInfo(): Promise<SystemInfo>;
  listDatasets(): Promise<DatasetInfo[]>;
  previewDataset(id: string, perClass: number): Promise<DatasetPreview>;
  downloadDataset(name: DownloadableDataset): Promise<JobInfo>;
  importDataset(spec: ImportSpec): Promise<JobInfo>;
  /** A native file or folder picker; null when the user cancels or the shell has none (browser). */
  pickPath(kind: 'file' | 'folder'): Promise<string | null>;
  listRuns(): Promise<RunSummary[]>;
  getRun(id: number): Promise<RunDetailView>;
  /** Experiments (demos, grids, scenarios, wizard sessions, single runs), newest first, with totals. */
  listExperiments(): Promise<ExperimentSummary[]>;
  /** One experiment: its runs in their roles and its scenarios (for Figure 6). */
  getExperiment(id: number): Promise<ExperimentDetailView>;
  listModels(): Promise<ModelSummary[]>;
  startTraining(params: TrainParams): Promise<JobInfo>;
  /**
   * Continues a cancelled, interrupted or failed training from its run folder's last
   * checkpoint, as a new job and run whose energy carries the earlier attempts'.
   */
  resumeTraining(runId: number): Promise<JobInfo>;
  runDemo(params?: DemoParams): Promise<JobInfo>;
  cancelJob(id: string): Promise<boolean>;
  listJobs(): Promise<JobInfo[]>;
  getSettings(): Promise<AppSettings>;
  setSetting(key: SettingKey, value: unknown): Promise<AppSettings>;
  getEnergySummary(): Promise<EnergySummary>;
  /** Decomposes a model (Table 1) as a job; the module sets are saved next to the model. */
  startDecomposition(params: DecomposeParams): Promise<JobInfo>;
  /** The module sets saved next to a model, newest first. */
  listModuleSets(modelDir: string): Promise<ModuleSetSummary[]>;
  /** Runs one reuse or replace scenario and its train-from-scratch baseline as a job. */
  startScenario(params: ScenarioParams): Promise<JobInfo>;
  /** A model's (or a repaired classifier's) test accuracy, confusion matrix and most-confused pair. */
  analyzeFault(dir: string, dataset: string | null): Promise<FaultView>;
  /** Trains a faulty model (and a clean one) on the embedded dataset, for the wizard, as a job. */
  startFaultyDemo(params?: FaultyDemoParams): Promise<JobInfo>;
  /** Runs the chosen repair options, each measured, as a job whose result is the comparison. */
  startWizard(params: WizardParams): Promise<JobInfo>;
  /** Saves one option of a finished wizard job as a named repaired classifier. */
  saveRepair(params: SaveRepairParams): Promise<RepairedSummary>;
  /** The saved repaired classifiers, newest first. */
  listRepaired(): Promise<RepairedSummary[]>;
  /** Progress of running jobs, pushed as it happens. */
  onProgress(listener: (event: ProgressEvent) => void): Unsubscribe;
}

/** Progress events are pushed to subscribers; subscribe returns an unsubscribe function. */
export type Unsubscribe = () => void;
export interface ProgressEvent {
  jobId: string;
  progress: Progress;
  kind?: JobKind;
  status?: JobStatus;
  payload?: JobPayload;
}

// ---- The wire format every bridge uses (Electron IPC, utility process, web shell) ----

/** The request/response methods of the API: every shell exposes exactly these. */
export type ApiMethod = Exclude<keyof DecomposerApi, 'onProgress'>;

type Check = (args: unknown[]) => string | null;

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isPathString = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= 4096 && !v.includes('\0');

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], what: string): string | null {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) return `${what} has an unknown field "${k.slice(0, 40)}"`;
  return null;
}

export function checkTrainParams(p: unknown): string | null {
  if (!isObj(p)) return 'training parameters must be an object';
  const extra = onlyKeys(
    p,
    ['dataset', 'depth', 'epochs', 'seed', 'augment', 'perClass', 'batchSize'],
    'training parameters',
  );
  if (extra) return extra;
  if (typeof p.dataset !== 'string' || !p.dataset || p.dataset.length > 300)
    return 'dataset must be a dataset id';
  if (!isResNetDepth(p.depth)) return `depth must be ${RESNET_DEPTH_RULE}`;
  if (!isInt(p.epochs, 1, 1000)) return 'epochs must be a whole number from 1 to 1000';
  if (!isInt(p.seed, 0, 2 ** 31 - 1)) return 'seed must be a whole number ≥ 0';
  if (typeof p.augment !== 'boolean') return 'augment must be true or false';
  if (p.perClass != null && !isInt(p.perClass, 2, 100_000))
    return 'images per class must be from 2 to 100000';
  if (p.batchSize != null && !isInt(p.batchSize, 1, 4096)) return 'batch size must be from 1 to 4096';
  return null;
}

export function checkDemoParams(p: unknown): string | null {
  if (p === undefined || p === null) return null;
  if (!isObj(p)) return 'demo parameters must be an object';
  const extra = onlyKeys(p, ['epochs', 'depth', 'perClass', 'scenarios'], 'demo parameters');
  if (extra) return extra;
  if (p.scenarios !== undefined && typeof p.scenarios !== 'boolean') return 'scenarios must be true or false';
  if (p.epochs !== undefined && !isInt(p.epochs, 1, 1000)) return 'epochs must be from 1 to 1000';
  if (p.depth !== undefined && !isResNetDepth(p.depth)) return `depth must be ${RESNET_DEPTH_RULE}`;
  if (p.perClass !== undefined && !isInt(p.perClass, 2, 100_000))
    return 'images per class must be from 2 to 100000';
  return null;
}

export function checkImportSpec(p: unknown): string | null {
  if (!isObj(p)) return 'the dataset to import must be an object';
  const unknown = onlyKeys(p, ['kind', 'path', 'size', 'extra'], 'the dataset to import');
  if (unknown) return unknown;
  if (!IMPORT_KINDS.includes(p.kind as string))
    return 'kind must be cifar10, cifar100, tinyimagenet or folder';
  if (!isPathString(p.path)) return 'path must be a non-empty path';
  if (p.size !== undefined && p.size !== 32 && p.size !== 64) return 'size must be 32 or 64';
  if (p.extra === undefined) return null;
  if (!Array.isArray(p.extra) || p.extra.length > MAX_IMPORT_EXTRA)
    return `extra must be a list of at most ${MAX_IMPORT_EXTRA} sources`;
  for (const [i, part] of p.extra.entries()) {
    const what = `added source ${i + 1}`;
    if (!isObj(part)) return `${what} must be an object`;
    // A kind and a path only: no size of its own, and no sources of its own (no nesting).
    const bad = onlyKeys(part, ['kind', 'path'], what);
    if (bad) return bad;
    if (!IMPORT_KINDS.includes(part.kind as string))
      return `${what}: kind must be cifar10, cifar100, tinyimagenet or folder`;
    if (!isPathString(part.path)) return `${what}: path must be a non-empty path`;
  }
  return null;
}

const IMPORT_KINDS: readonly string[] = ['cifar10', 'cifar100', 'tinyimagenet', 'folder'];

const isNum = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;

export function checkDecomposeParams(p: unknown): string | null {
  if (!isObj(p)) return 'decomposition parameters must be an object';
  const extra = onlyKeys(
    p,
    ['modelDir', 'approaches', 'delta', 'perClass', 'seed', 'point', 'dataset'],
    'decomposition parameters',
  );
  if (extra) return extra;
  if (!isPathString(p.modelDir)) return 'modelDir must be a model folder';
  if (
    !Array.isArray(p.approaches) ||
    p.approaches.length < 1 ||
    p.approaches.length > DECOMPOSE_APPROACHES.length ||
    !p.approaches.every((a) => DECOMPOSE_APPROACHES.includes(a as DecomposeApproach)) ||
    new Set(p.approaches).size !== p.approaches.length
  )
    return `approaches must be one or more of ${DECOMPOSE_APPROACHES.join(', ')}`;
  if (!isNum(p.delta, 0, 1000)) return 'δ must be a number ≥ 0';
  if (!isInt(p.perClass, 1, 100_000)) return 'images per class must be from 1 to 100000';
  if (!isInt(p.seed, 0, 2 ** 31 - 1)) return 'seed must be a whole number ≥ 0';
  if (p.point !== 'relu' && p.point !== 'conv' && p.point !== 'conv-skip-add')
    return 'the observation point must be relu, conv or conv-skip-add';
  if (p.dataset != null && (typeof p.dataset !== 'string' || !p.dataset || p.dataset.length > 300))
    return 'dataset must be a dataset id';
  return null;
}

function checkPick(p: unknown, sources: number): boolean {
  return (
    isObj(p) &&
    Object.keys(p).every((k) => k === 'source' || k === 'classIndex') &&
    isInt(p.source, 0, sources - 1) &&
    isInt(p.classIndex, 0, 100_000)
  );
}

export function checkScenarioParams(p: unknown): string | null {
  if (!isObj(p)) return 'scenario parameters must be an object';
  const extra = onlyKeys(
    p,
    [
      'kind',
      'models',
      'classes',
      'replaced',
      'replacement',
      'approach',
      'perClass',
      'baselineEpochs',
      'seed',
    ],
    'scenario parameters',
  );
  if (extra) return extra;
  if (p.kind !== 'reuse' && p.kind !== 'replace') return 'kind must be reuse or replace';
  if (!Array.isArray(p.models) || p.models.length < 1 || p.models.length > 2 || !p.models.every(isPathString))
    return 'models must be one or two model folders';
  const n = p.models.length;
  if (p.kind === 'reuse') {
    if (!Array.isArray(p.classes) || p.classes.length < 2 || p.classes.length > 1000)
      return 'a reuse scenario needs at least two classes';
    if (!p.classes.every((c) => checkPick(c, n)))
      return 'each class must be {source, classIndex} of a given model';
    if (p.replaced !== undefined || p.replacement !== undefined)
      return 'a reuse scenario has no replaced class';
  } else {
    if (n !== 2) return 'a replace scenario needs two models';
    if (!isInt(p.replaced, 0, 100_000)) return 'replaced must be a class index';
    if (!checkPick(p.replacement, n) || (p.replacement as ScenarioPick).source !== 1)
      return 'the replacement must be a class of the second model';
    if (p.classes !== undefined) return 'a replace scenario takes replaced and replacement, not classes';
  }
  if (!DECOMPOSE_APPROACHES.includes(p.approach as DecomposeApproach))
    return `approach must be one of ${DECOMPOSE_APPROACHES.join(', ')}`;
  if (!isInt(p.perClass, 1, 100_000)) return 'images per class must be from 1 to 100000';
  if (!isInt(p.baselineEpochs, 1, 1000)) return 'baseline epochs must be from 1 to 1000';
  if (!isInt(p.seed, 0, 2 ** 31 - 1)) return 'seed must be a whole number ≥ 0';
  return null;
}

export function checkFaultyDemoParams(p: unknown): string | null {
  if (p === undefined || p === null) return null;
  if (!isObj(p)) return 'faulty demo parameters must be an object';
  const extra = onlyKeys(p, ['epochs', 'depth', 'perClass', 'fraction', 'better'], 'faulty demo parameters');
  if (extra) return extra;
  if (p.epochs !== undefined && !isInt(p.epochs, 1, 1000)) return 'epochs must be from 1 to 1000';
  if (p.depth !== undefined && !isResNetDepth(p.depth)) return `depth must be ${RESNET_DEPTH_RULE}`;
  if (p.perClass !== undefined && !isInt(p.perClass, 4, 100_000))
    return 'images per class must be from 4 to 100000';
  if (p.fraction !== undefined && !isNum(p.fraction, 0.05, 1))
    return 'the fault fraction must be from 0.05 to 1';
  if (p.better !== undefined && typeof p.better !== 'boolean') return 'better must be true or false';
  return null;
}

export function checkWizardParams(p: unknown): string | null {
  if (!isObj(p)) return 'wizard parameters must be an object';
  const extra = onlyKeys(
    p,
    [
      'modelDir',
      'dataset',
      'faulty',
      'victim',
      'options',
      'betterModel',
      'betterEpochs',
      'pairDepth',
      'pairEpochs',
      'perClass',
      'seed',
    ],
    'wizard parameters',
  );
  if (extra) return extra;
  if (!isPathString(p.modelDir)) return 'modelDir must be a model folder';
  if (p.dataset != null && (typeof p.dataset !== 'string' || !p.dataset || p.dataset.length > 300))
    return 'dataset must be a dataset id';
  if (!isInt(p.faulty, 0, 100_000) || !isInt(p.victim, 0, 100_000))
    return 'faulty and victim must be class indices';
  if (p.faulty === p.victim) return 'the faulty and victim classes must differ';
  if (
    !Array.isArray(p.options) ||
    !p.options.length ||
    !p.options.every((o) => WIZARD_OPTIONS.includes(o as WizardOption)) ||
    new Set(p.options).size !== p.options.length
  )
    return 'options must be one or more of 1, 2, 3, 4';
  if (p.betterModel != null && !isPathString(p.betterModel)) return 'betterModel must be a model folder';
  if (p.betterEpochs != null && !isInt(p.betterEpochs, 1, 1000)) return 'betterEpochs must be from 1 to 1000';
  if (!isResNetDepth(p.pairDepth)) return `pairDepth must be ${RESNET_DEPTH_RULE}`;
  if (!isInt(p.pairEpochs, 1, 1000)) return 'pairEpochs must be from 1 to 1000';
  if (!isInt(p.perClass, 1, 100_000)) return 'images per class must be from 1 to 100000';
  if (!isInt(p.seed, 0, 2 ** 31 - 1)) return 'seed must be a whole number ≥ 0';
  return null;
}

export const REPAIR_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function checkSaveRepairParams(p: unknown): string | null {
  if (!isObj(p)) return 'what to save must be an object';
  const extra = onlyKeys(p, ['jobId', 'option', 'name'], 'what to save');
  if (extra) return extra;
  if (typeof p.jobId !== 'string' || !/^[\w-]{1,80}$/.test(p.jobId)) return 'jobId must be a job id';
  if (!WIZARD_OPTIONS.includes(p.option as WizardOption)) return 'option must be 1, 2, 3 or 4';
  if (typeof p.name !== 'string' || !REPAIR_NAME_RE.test(p.name))
    return 'the name may hold letters, digits, dots, dashes and underscores (at most 100)';
  return null;
}

function checkSetting(args: unknown[]): string | null {
  const [key, value] = args;
  if (!SETTING_NAMES.includes(key as SettingKey))
    return `unknown setting ${JSON.stringify(String(key)).slice(0, 60)}`;
  const program = programSettingRefusal(key as string);
  if (program) return program;
  if (key === 'backend')
    return ['auto', 'onnxruntime', 'tensorflow', 'wasm', 'cpu'].includes(value as string)
      ? null
      : 'backend must be auto, onnxruntime, tensorflow, wasm or cpu';
  if (key === 'workers')
    return value === null || isInt(value, 0, 256)
      ? null
      : 'workers must be a whole number from 0 to 256, or null';
  if (key === 'powercapRoot') return isPathString(value) ? null : `${key} must be a path`;
  if (key === 'baselinePatience' || key === 'baselineMaxEpochs')
    return isInt(value, 1, 1000) ? null : `${key} must be a whole number from 1 to 1000`;
  return typeof value === 'number' && Number.isFinite(value) ? null : `${String(key)} must be a number`;
}

const none: Check = () => null;

/** Each method's argument count (and how many trailing ones are optional) and argument checks. */
export const API_METHODS: Readonly<Record<ApiMethod, { arity: number; optional?: number; check: Check }>> = {
  getSystemInfo: { arity: 0, check: none },
  listDatasets: { arity: 0, check: none },
  previewDataset: {
    arity: 2,
    check: ([id, n]) =>
      typeof id !== 'string' || !id || id.length > 300
        ? 'the dataset id must be a string'
        : isInt(n, 1, 16)
          ? null
          : 'images per class must be from 1 to 16',
  },
  downloadDataset: {
    arity: 1,
    check: ([n]) =>
      (DOWNLOADABLE_DATASETS as readonly string[]).includes(n as string)
        ? null
        : `download one of ${DOWNLOADABLE_DATASETS.join(', ')}`,
  },
  importDataset: { arity: 1, check: ([s]) => checkImportSpec(s) },
  pickPath: { arity: 1, check: ([k]) => (k === 'file' || k === 'folder' ? null : 'pick a file or a folder') },
  listRuns: { arity: 0, check: none },
  getRun: {
    arity: 1,
    check: ([id]) =>
      isInt(id, 1, Number.MAX_SAFE_INTEGER) ? null : 'the run id must be a positive whole number',
  },
  listExperiments: { arity: 0, check: none },
  getExperiment: {
    arity: 1,
    check: ([id]) =>
      isInt(id, 1, Number.MAX_SAFE_INTEGER) ? null : 'the experiment id must be a positive whole number',
  },
  listModels: { arity: 0, check: none },
  startTraining: { arity: 1, check: ([p]) => checkTrainParams(p) },
  resumeTraining: {
    arity: 1,
    check: ([id]) =>
      isInt(id, 1, Number.MAX_SAFE_INTEGER) ? null : 'the run id must be a positive whole number',
  },
  runDemo: { arity: 1, optional: 1, check: ([p]) => checkDemoParams(p) },
  cancelJob: {
    arity: 1,
    check: ([id]) =>
      typeof id === 'string' && /^[\w-]{1,80}$/.test(id) ? null : 'the job id must be a job id string',
  },
  listJobs: { arity: 0, check: none },
  getSettings: { arity: 0, check: none },
  setSetting: { arity: 2, check: checkSetting },
  getEnergySummary: { arity: 0, check: none },
  startDecomposition: { arity: 1, check: ([p]) => checkDecomposeParams(p) },
  listModuleSets: {
    arity: 1,
    check: ([d]) => (isPathString(d) ? null : 'the model folder must be a path'),
  },
  startScenario: { arity: 1, check: ([p]) => checkScenarioParams(p) },
  analyzeFault: {
    arity: 2,
    check: ([d, ds]) =>
      !isPathString(d)
        ? 'the model folder must be a path'
        : ds !== null && (typeof ds !== 'string' || !ds || ds.length > 300)
          ? 'the dataset must be a dataset id or null'
          : null,
  },
  startFaultyDemo: { arity: 1, optional: 1, check: ([p]) => checkFaultyDemoParams(p) },
  startWizard: { arity: 1, check: ([p]) => checkWizardParams(p) },
  saveRepair: { arity: 1, check: ([p]) => checkSaveRepairParams(p) },
  listRepaired: { arity: 0, check: none },
};

export function isApiMethod(value: unknown): value is ApiMethod {
  return typeof value === 'string' && Object.hasOwn(API_METHODS, value);
}

/** Checks a call that crossed a process boundary; returns a reason when it is invalid. */
export function checkCall(method: unknown, args: unknown): string | null {
  if (!isApiMethod(method)) return `unknown API method ${JSON.stringify(String(method)).slice(0, 80)}`;
  if (!Array.isArray(args)) return `arguments of ${method} must be an array`;
  const { arity, optional = 0, check } = API_METHODS[method];
  if (args.length > arity || args.length < arity - optional)
    return `${method} takes ${optional ? `${arity - optional} to ${arity}` : arity} argument(s), got ${args.length}`;
  const problem = check(args);
  return problem ? `${method}: ${problem}` : null;
}

/** An error as it crosses a boundary: what happened and, for errors users can act on, what to do. */
export interface WireError {
  message: string;
  hint?: string;
  code?: string;
}

export type WireResult<T = unknown> = { ok: true; value: T } | { ok: false; error: WireError };

export function toWireError(e: unknown): WireError {
  if (isUserError(e)) return { message: e.message, hint: e.hint, code: e.code };
  if (e instanceof Error) return { message: e.message };
  return { message: String(e) };
}

export function fromWireError(w: WireError): Error {
  if (typeof w.hint === 'string') return new UserError(w.message, w.hint, w.code);
  return new Error(w.message);
}

/** Checks the shape of a progress event that crossed a boundary. */
export function isProgressEvent(value: unknown): value is ProgressEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as {
    jobId?: unknown;
    progress?: { stage?: unknown; fraction?: unknown };
    status?: unknown;
    payload?: unknown;
  };
  return (
    typeof v.jobId === 'string' &&
    typeof v.progress === 'object' &&
    v.progress !== null &&
    typeof v.progress.stage === 'string' &&
    (v.progress.fraction === null || typeof v.progress.fraction === 'number') &&
    (v.status === undefined || JOB_STATUSES.includes(v.status as JobStatus)) &&
    (v.payload === undefined || (isObj(v.payload) && typeof v.payload.type === 'string'))
  );
}
