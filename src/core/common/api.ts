// The one typed API the renderer talks to. The Electron preload exposes it over IPC and the
// web shell bridges it over HTTP and Server-Sent Events; the renderer does not know which is behind it.
// Here: the method table (DecomposerApi) and the wire format with its argument checks. Each
// feature's view types and parameters have their own file beside this one (system, jobs,
// decomposition, reuse, training, wizard, datasets, energy, runs, settings), re-exported here
// so a shell or a page imports one module.
import type { DatasetInfo, Progress } from './dataset.ts';
import { isUserError, UserError } from './errors.ts';
import { isResNetDepth, RESNET_DEPTH_RULE } from './rules.ts';
import { WIZARD_OPTIONS, type WizardOption } from './wizard.ts';

import {
  DOWNLOADABLE_DATASETS,
  MAX_IMPORT_EXTRA,
  type DatasetPreview,
  type DownloadableDataset,
  type ImportSpec,
} from './datasets.ts';
import {
  DECOMPOSE_APPROACHES,
  type DecomposeApproach,
  type DecomposeParams,
  type ModuleSetSummary,
} from './decomposition.ts';
import type { EnergySummary } from './energy.ts';
import { JOB_STATUSES, type JobInfo, type JobKind, type JobPayload, type JobStatus } from './jobs.ts';
import type { ScenarioParams, ScenarioPick } from './reuse.ts';
import type { ExperimentDetailView, ExperimentSummary, RunDetailView, RunSummary } from './runs.ts';
import { SETTING_NAMES, programSettingRefusal, type AppSettings, type SettingKey } from './settings.ts';
import type { SystemInfo } from './system.ts';
import type { DemoParams, ModelSummary, TrainParams } from './training.ts';
import type {
  FaultView,
  FaultyDemoParams,
  RepairedSummary,
  SaveRepairParams,
  WizardParams,
} from './wizard.ts';

export * from './system.ts';
export * from './jobs.ts';
export * from './decomposition.ts';
export * from './reuse.ts';
export * from './training.ts';
export * from './datasets.ts';
export * from './energy.ts';
export * from './runs.ts';
export * from './settings.ts';
export type {
  FaultView,
  FaultyDemoParams,
  FaultMade,
  WizardParams,
  WizardAccuracy,
  WizardOptionView,
  WizardView,
  SaveRepairParams,
  RepairedSummary,
} from './wizard.ts';

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
