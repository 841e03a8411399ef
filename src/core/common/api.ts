// The one typed API the renderer talks to. The Electron preload exposes it over IPC and the
// web shell bridges it over HTTP and Server-Sent Events; the renderer does not know which is behind it.
// Here: the method table (DecomposerApi) and the wire format. Each feature's view types,
// parameters and argument checks have their own file beside this one (system, jobs,
// decomposition, reuse, training, wizard, datasets, energy, runs, settings; shape checks in
// rules.ts), re-exported here so a shell or a page imports one module.
import type { DatasetInfo, Progress } from './dataset.ts';
import {
  DOWNLOADABLE_DATASETS,
  IMPORT_SPEC,
  type DatasetPreview,
  type DownloadableDataset,
  type ImportSpec,
} from './datasets.ts';
import {
  DECOMPOSE_PARAMS,
  type DecomposeParams,
  type ModuleSetSummary,
  type PortableExportView,
} from './decomposition.ts';
import type { EnergySummary } from './energy.ts';
import { UserError, isUserError } from './errors.ts';
import {
  JOB_STATUSES,
  type JobInfo,
  type JobKind,
  type JobOf,
  type JobPayload,
  type JobStatus,
} from './jobs.ts';
import { SCENARIO_PARAMS, type ScenarioParams } from './reuse.ts';
import { IMPORT_MODEL_PARAMS, type ImportedModelView, type ImportModelParams } from './models.ts';
import { PREVIEW_PER_CLASS, ROW_ID } from './bounds.ts';
import type { ExperimentDetailView, ExperimentSummary, RunDetailView, RunSummary } from './runs.ts';
import { DATASET_ID, describeIssues, JOB_ID, PATH, v } from './schema.ts';
import { SETTING_NAMES, settingProblem, type AppSettings, type SettingKey } from './settings.ts';
import type { SystemInfo } from './system.ts';
import {
  DEMO_PARAMS,
  TRAIN_PARAMS,
  type DemoParams,
  type ModelSummary,
  type TrainParams,
} from './training.ts';
import {
  FAULTY_DEMO_PARAMS,
  SAVE_REPAIR_PARAMS,
  WIZARD_PARAMS,
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
export * from './models.ts';
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
export { FAULTY_DEMO_PARAMS, REPAIR_NAME_RE, SAVE_REPAIR_PARAMS, WIZARD_PARAMS } from './wizard.ts';

export interface DecomposerApi {
  getSystemInfo(): Promise<SystemInfo>;
  listDatasets(): Promise<DatasetInfo[]>;
  previewDataset(id: string, perClass: number): Promise<DatasetPreview>;
  downloadDataset(name: DownloadableDataset): Promise<JobOf<'download'>>;
  importDataset(spec: ImportSpec): Promise<JobOf<'import'>>;
  /** A native file or folder picker; null when the user cancels or the shell has none (browser). */
  pickPath(kind: 'file' | 'folder'): Promise<string | null>;
  listRuns(): Promise<RunSummary[]>;
  getRun(id: number): Promise<RunDetailView>;
  /** Experiments (demos, grids, scenarios, wizard sessions, single runs), newest first, with totals. */
  listExperiments(): Promise<ExperimentSummary[]>;
  /** One experiment: its runs in their roles and its scenarios (for Figure 6). */
  getExperiment(id: number): Promise<ExperimentDetailView>;
  listModels(): Promise<ModelSummary[]>;
  /**
   * Imports an ONNX classifier into a new model folder (decomposer import), judged on a
   * dataset of the app's; nothing is written when any check fails.
   */
  importModel(params: ImportModelParams): Promise<ImportedModelView>;
  startTraining(params: TrainParams): Promise<JobOf<'train'>>;
  /**
   * Continues a cancelled, interrupted or failed training from its run folder's last
   * checkpoint, as a new job and run whose energy carries the earlier attempts'.
   */
  resumeTraining(runId: number): Promise<JobOf<'train' | 'demo'>>;
  runDemo(params?: DemoParams): Promise<JobOf<'demo'>>;
  cancelJob(id: string): Promise<boolean>;
  listJobs(): Promise<JobInfo[]>;
  getSettings(): Promise<AppSettings>;
  setSetting(key: SettingKey, value: unknown): Promise<AppSettings>;
  getEnergySummary(): Promise<EnergySummary>;
  /** Decomposes a model (Table 1) as a job; the module sets are saved next to the model. */
  startDecomposition(params: DecomposeParams): Promise<JobOf<'decompose'>>;
  /** The module sets saved next to a model, newest first. */
  listModuleSets(modelDir: string): Promise<ModuleSetSummary[]>;
  /**
   * Writes a saved module set (its folder, from listModuleSets) as portable ONNX models into
   * `outDir`: one per module and the composed classifier (decompose --export-onnx).
   */
  exportModulesOnnx(setDir: string, outDir: string): Promise<PortableExportView>;
  /** Runs one reuse or replace scenario and its train-from-scratch baseline as a job. */
  startScenario(params: ScenarioParams): Promise<JobOf<'scenario'>>;
  /** A model's (or a repaired classifier's) test accuracy, confusion matrix and most-confused pair. */
  analyzeFault(dir: string, dataset: string | null): Promise<FaultView>;
  /** Trains a faulty model (and a clean one) on the embedded dataset, for the wizard, as a job. */
  startFaultyDemo(params?: FaultyDemoParams): Promise<JobOf<'faulty'>>;
  /** Runs the chosen repair options, each measured, as a job whose result is the comparison. */
  startWizard(params: WizardParams): Promise<JobOf<'wizard'>>;
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

/** One argument of a method: its name in a refusal, its schema, and whether it may be left out. */
interface Arg {
  name: string;
  schema: v.GenericSchema;
  optional?: true;
}

const arg = <S extends v.GenericSchema>(name: string, schema: S) => ({ name, schema });
/** An argument that may be left out (or sent as null, which JSON makes of an undefined one). */
const optional = <S extends v.GenericSchema>(name: string, schema: S) => ({
  name,
  schema,
  optional: true as const,
});

const RUN_ID = arg('the run id', ROW_ID.schema);

/**
 * Each method's arguments, one schema each (the parameter types above are inferred from the
 * same schemas), and for setSetting the rule between its two arguments. Every shell checks a
 * call with this table (checkCall), and the core checks it again (app/context.ts guard).
 */
export const API_METHODS = {
  getSystemInfo: { args: [] },
  listDatasets: { args: [] },
  previewDataset: {
    args: [arg('the dataset id', DATASET_ID), arg('images per class', PREVIEW_PER_CLASS.schema)],
  },
  downloadDataset: {
    args: [
      arg(
        'the dataset',
        v.picklist(DOWNLOADABLE_DATASETS, `must be one of ${DOWNLOADABLE_DATASETS.join(', ')}`),
      ),
    ],
  },
  importDataset: { args: [arg('the dataset to import', IMPORT_SPEC)] },
  pickPath: { args: [arg('what to pick', v.picklist(['file', 'folder'], 'must be a file or a folder'))] },
  listRuns: { args: [] },
  getRun: { args: [RUN_ID] },
  listExperiments: { args: [] },
  getExperiment: { args: [arg('the experiment id', ROW_ID.schema)] },
  listModels: { args: [] },
  importModel: { args: [arg('the model to import', IMPORT_MODEL_PARAMS)] },
  startTraining: { args: [arg('the training parameters', TRAIN_PARAMS)] },
  resumeTraining: { args: [RUN_ID] },
  runDemo: { args: [optional('the demo parameters', DEMO_PARAMS)] },
  cancelJob: { args: [arg('the job id', JOB_ID)] },
  listJobs: { args: [] },
  getSettings: { args: [] },
  setSetting: {
    args: [
      arg('the setting', v.picklist(SETTING_NAMES, `must be one of ${SETTING_NAMES.join(', ')}`)),
      arg('the value', v.unknown()),
    ],
    // Each setting's value has the schema of its own (settings.ts).
    check: ([key, value]: unknown[]) => settingProblem(key, value),
  },
  getEnergySummary: { args: [] },
  startDecomposition: { args: [arg('the decomposition parameters', DECOMPOSE_PARAMS)] },
  listModuleSets: { args: [arg('the model folder', PATH)] },
  exportModulesOnnx: {
    args: [arg('the module set folder', PATH), arg('the folder to export into', PATH)],
  },
  startScenario: { args: [arg('the scenario parameters', SCENARIO_PARAMS)] },
  analyzeFault: { args: [arg('the model folder', PATH), arg('the dataset', v.nullable(DATASET_ID))] },
  startFaultyDemo: { args: [optional('the faulty demo parameters', FAULTY_DEMO_PARAMS)] },
  startWizard: { args: [arg('the wizard parameters', WIZARD_PARAMS)] },
  saveRepair: { args: [arg('what to save', SAVE_REPAIR_PARAMS)] },
  listRepaired: { args: [] },
} as const satisfies Record<ApiMethod, { args: readonly Arg[]; check?: (args: unknown[]) => string | null }>;

// The table's schemas and the interface's parameter types are one: a method whose schemas
// infer other types than DecomposerApi declares fails to compile here, naming the method.
type Outputs<A extends readonly Arg[]> = { -readonly [I in keyof A]: v.InferOutput<A[I]['schema']> };
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Mismatched = {
  [M in ApiMethod]: Same<
    Outputs<(typeof API_METHODS)[M]['args']>,
    Required<Parameters<DecomposerApi[M]>>
  > extends true
    ? never
    : M;
}[ApiMethod];
const _sameTypes: [Mismatched] extends [never] ? true : Mismatched = true;
void _sameTypes;

export function isApiMethod(value: unknown): value is ApiMethod {
  return typeof value === 'string' && Object.hasOwn(API_METHODS, value);
}

/** Checks a call that crossed a process boundary; returns a reason when it is invalid. */
export function checkCall(method: unknown, args: unknown): string | null {
  if (!isApiMethod(method)) return `unknown API method ${JSON.stringify(String(method)).slice(0, 80)}`;
  if (!Array.isArray(args)) return `arguments of ${method} must be an array`;
  const entry: { args: readonly Arg[]; check?: (args: unknown[]) => string | null } = API_METHODS[method];
  const arity = entry.args.length;
  const optional = entry.args.filter((a) => a.optional).length;
  if (args.length > arity || args.length < arity - optional)
    return `${method} takes ${optional ? `${arity - optional} to ${arity}` : arity} argument(s), got ${args.length}`;
  for (const [i, a] of entry.args.entries()) {
    if (a.optional && (args[i] === undefined || args[i] === null)) continue;
    const r = v.safeParse(a.schema, args[i]);
    if (!r.success) return `${method}: ${describeIssues(r.issues, { whole: a.name })}`;
  }
  const problem = entry.check?.(args) ?? null;
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

/** A progress event as it crosses a boundary (other fields pass through unread). */
const PROGRESS_EVENT = v.looseObject({
  jobId: v.string(),
  progress: v.looseObject({ stage: v.string(), fraction: v.nullable(v.number()) }),
  status: v.optional(v.picklist(JOB_STATUSES)),
  payload: v.optional(v.looseObject({ type: v.string() })),
});

/** Checks the shape of a progress event that crossed a boundary. */
export function isProgressEvent(value: unknown): value is ProgressEvent {
  return v.is(PROGRESS_EVENT, value);
}
