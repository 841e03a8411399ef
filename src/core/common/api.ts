// The one typed API the renderer talks to. The Electron preload exposes it over IPC and the
// web shell bridges it over HTTP and Server-Sent Events; the renderer does not know which is behind it.
// Here: the method table (DecomposerApi) and the wire format. Each feature's view types,
// parameters and argument checks have their own file beside this one (system, jobs,
// decomposition, reuse, training, wizard, datasets, energy, runs, settings; shape checks in
// rules.ts), re-exported here so a shell or a page imports one module.
import type { DatasetInfo, Progress } from './dataset.ts';
import {
  DOWNLOADABLE_DATASETS,
  checkImportSpec,
  type DatasetPreview,
  type DownloadableDataset,
  type ImportSpec,
} from './datasets.ts';
import {
  checkDecomposeParams,
  type DecomposeParams,
  type ModuleSetSummary,
  type PortableExportView,
} from './decomposition.ts';
import type { EnergySummary } from './energy.ts';
import { UserError, isUserError } from './errors.ts';
import { JOB_STATUSES, type JobInfo, type JobKind, type JobPayload, type JobStatus } from './jobs.ts';
import { checkScenarioParams, type ScenarioParams } from './reuse.ts';
import { PREVIEW_PER_CLASS, ROW_ID, boundProblem, within } from './bounds.ts';
import { isObj, isPathString } from './rules.ts';
import type { ExperimentDetailView, ExperimentSummary, RunDetailView, RunSummary } from './runs.ts';
import { checkSetting, type AppSettings, type SettingKey } from './settings.ts';
import type { SystemInfo } from './system.ts';
import {
  checkDemoParams,
  checkTrainParams,
  type DemoParams,
  type ModelSummary,
  type TrainParams,
} from './training.ts';
import {
  checkFaultyDemoParams,
  checkSaveRepairParams,
  checkWizardParams,
  type FaultView,
  type FaultyDemoParams,
  type RepairedSummary,
  type SaveRepairParams,
  type WizardParams,
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
export { checkSaveRepairParams, checkWizardParams, checkFaultyDemoParams, REPAIR_NAME_RE } from './wizard.ts';

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
  /**
   * Writes a saved module set (its folder, from listModuleSets) as portable ONNX models into
   * `outDir`: one per module and the composed classifier (decompose --export-onnx).
   */
  exportModulesOnnx(setDir: string, outDir: string): Promise<PortableExportView>;
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
        : boundProblem('images per class', PREVIEW_PER_CLASS, n),
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
    check: ([id]) => (within(ROW_ID, id) ? null : 'the run id must be a positive whole number'),
  },
  listExperiments: { arity: 0, check: none },
  getExperiment: {
    arity: 1,
    check: ([id]) => (within(ROW_ID, id) ? null : 'the experiment id must be a positive whole number'),
  },
  listModels: { arity: 0, check: none },
  startTraining: { arity: 1, check: ([p]) => checkTrainParams(p) },
  resumeTraining: {
    arity: 1,
    check: ([id]) => (within(ROW_ID, id) ? null : 'the run id must be a positive whole number'),
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
  exportModulesOnnx: {
    arity: 2,
    check: ([d, o]) =>
      !isPathString(d)
        ? 'the module set folder must be a path'
        : isPathString(o)
          ? null
          : 'the folder to export into must be a path',
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
