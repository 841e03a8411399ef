// The core API in plain Node: what every shell (Electron utility process, web shell, tests)
// serves to the renderer. It never imports electron or a shell.
import { setDefaultInferenceEngine, type InferenceEngineName } from './inference/index.ts';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {
  AppSettings,
  BackendName,
  BackendReport,
  DecomposeParams,
  DecomposerApi,
  DemoParams,
  DownloadableDataset,
  EnergyFigure,
  EnergySummary,
  ExperimentDetailView,
  ExperimentSummary,
  FaultView,
  FaultyDemoParams,
  ImportSpec,
  RepairedSummary,
  SaveRepairParams,
  WizardParams,
  JobInfo,
  JobStatus,
  ModelSummary,
  ModuleSetSummary,
  ProgressEvent,
  RunDetailView,
  RunSummary,
  ScenarioParams,
  SettingKey,
  SystemInfo,
  TrainParams,
  Unsubscribe,
} from '../common/api.ts';
import { checkCall, isEstimatedSource } from '../common/api.ts';
import type { DatasetInfo } from '../common/dataset.ts';
import { UserError } from '../common/errors.ts';
import { listModuleSets } from './decompose/files.ts';
import { BACKEND_PREFERENCE, parseBackendName } from './engine/backend.ts';
import { trainingReport } from './engine/training.ts';
import { readModelDir } from './models/io.ts';
import { dataHome } from './paths.ts';
import { listEmbeddedDatasets, listFoundDatasets, previewDataset, readImported } from './jobs/datasets.ts';
import { JobManager } from './jobs/jobs.ts';
import { analyzeFault, listRepaired } from './jobs/wizard.ts';
import { energyTotals } from './store/summaries.ts';
import {
  readSettings,
  readStoredValue,
  SETTING_KEYS,
  writeSetting,
  writeStoredValue,
  type Settings,
} from './store/settings.ts';
import { defaultDbFile, Store, type ExperimentRow, type RunRow } from './store/store.ts';
import { scenarioView } from './jobs/analysis.ts';
import type { ScenarioRow } from './workflows/grid.ts';
import pkg from '../../../package.json' with { type: 'json' };

export interface CoreApiOptions {
  /** Force a training backend (null or absent: the setting, else the fastest that loads). */
  backend?: BackendName | null;
  /** The data folder (default: DECOMPOSER_HOME or ~/.decomposer). */
  home?: string;
  /** Where datasets and models are cached (default <home>/cache). */
  cacheDir?: string;
  /** The inference engine `auto` forces in this process (the shell's DECOMPOSER_INFERENCE). */
  inference?: InferenceEngineName | null;
}

/** The core API plus what only the hosting shell may do: publish progress, stop jobs. */
export interface CoreApi extends DecomposerApi {
  emitProgress(event: ProgressEvent): void;
  /** Cancels running jobs, waits for them, and closes the store. */
  close(): Promise<void>;
  readonly jobs: JobManager;
}

// initBackend is not safe to run twice at once (two tf.setBackend calls race), so every
// API instance in this process shares one in-flight initialisation per requested backend.
const backendStarts = new Map<BackendName | null, Promise<BackendReport>>();
function startBackend(force: BackendName | null): Promise<BackendReport> {
  let p = backendStarts.get(force);
  if (!p) {
    // Different requests still run one after another.
    const previous = Promise.allSettled([...backendStarts.values()]);
    p = previous.then(() => trainingReport(force));
    p.catch(() => backendStarts.delete(force));
    backendStarts.set(force, p);
  }
  return p;
}

/** How many of the latest runs the Energy page lists one by one (its totals count every run). */
const ENERGY_LIST_RUNS = 500;

const UI_KEYS = { backend: 'ui.backend', workers: 'ui.workers' } as const;

function readUiSetting(store: Store, key: keyof typeof UI_KEYS): unknown {
  return readStoredValue(store, UI_KEYS[key]);
}

function writeUiSetting(store: Store, key: keyof typeof UI_KEYS, value: unknown): void {
  writeStoredValue(store, UI_KEYS[key], value);
}

function toExperimentSummary(e: ExperimentRow): ExperimentSummary {
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

function toSummary(r: RunRow): RunSummary {
  return {
    id: r.id,
    kind: (r.params as { demo?: boolean } | null)?.demo ? 'demo' : r.kind,
    label: r.label,
    experimentId: r.experiment_id,
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
    energy: r.energy as EnergyFigure | null,
    energyFixedEpochs: r.energy_fixed_epochs as EnergyFigure | null,
    energyUntilBest: r.energy_until_best as EnergyFigure | null,
  };
}

export function createCoreApi(opts: CoreApiOptions = {}): CoreApi {
  const listeners = new Set<(event: ProgressEvent) => void>();
  const home = dataHome(opts.home);
  if (opts.inference !== undefined) setDefaultInferenceEngine(opts.inference);
  let store: Store | null = null;

  // The store opens on first use (so that describing the machine never creates files).
  function db(): Store {
    if (!store) {
      store = Store.open(defaultDbFile(home));
      jobs.noteInterrupted(store);
    }
    return store;
  }

  function engine(): { backend: BackendName | null; workers: number | undefined } {
    const s = db();
    const b = readUiSetting(s, 'backend');
    const w = readUiSetting(s, 'workers');
    return {
      backend: typeof b === 'string' && b !== 'auto' ? parseBackendName(b) : (opts.backend ?? null),
      workers: typeof w === 'number' ? w : undefined,
    };
  }

  function emitProgress(event: ProgressEvent): void {
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch {
        // A failing subscriber must not stop the others or the job that reports.
      }
    }
  }

  const jobs = new JobManager({ home, store: db, engine, emit: emitProgress });

  function settingsNow(): AppSettings {
    const s = db();
    const energy: Settings = readSettings(s);
    const b = readUiSetting(s, 'backend');
    const w = readUiSetting(s, 'workers');
    return {
      ...energy,
      backend:
        typeof b === 'string' && ['auto', ...BACKEND_PREFERENCE].includes(b)
          ? (b as AppSettings['backend'])
          : 'auto',
      workers: typeof w === 'number' ? w : null,
      dataHome: home,
    };
  }

  // Every method checks its arguments, whichever shell called it (the shells check them too).
  function guard(method: string, args: unknown[]): void {
    const problem = checkCall(method, args);
    if (problem) throw new UserError(problem, 'This is a bug in the caller; reload the page.', 'bad-request');
  }

  const api: CoreApi = {
    jobs,

    async getSystemInfo(): Promise<SystemInfo> {
      const backend = await startBackend(opts.backend ?? null);
      const cpus = os.cpus();
      return {
        app: 'Decomposer',
        version: pkg.version,
        node: process.versions.node,
        platform: os.platform(),
        arch: os.arch(),
        cpuModel: cpus[0]?.model.trim() || 'unknown CPU',
        cpus: os.availableParallelism?.() ?? cpus.length,
        memoryBytes: os.totalmem(),
        backend,
      };
    },

    async listDatasets(): Promise<DatasetInfo[]> {
      const found = listFoundDatasets(home);
      const imported = (await readImported(home))
        .map((d) => d.info)
        .filter((d) => !found.some((f) => f.id === d.id));
      return [...listEmbeddedDatasets(), ...found, ...imported];
    },

    async previewDataset(id: string, perClass: number) {
      guard('previewDataset', [id, perClass]);
      return previewDataset(home, id, perClass);
    },

    async downloadDataset(name: DownloadableDataset): Promise<JobInfo> {
      guard('downloadDataset', [name]);
      return jobs.downloadDataset(name);
    },

    async importDataset(spec: ImportSpec): Promise<JobInfo> {
      guard('importDataset', [spec]);
      return jobs.importDataset({ ...spec, path: path.resolve(spec.path) });
    },

    async pickPath(): Promise<string | null> {
      // No native picker in plain Node: the Electron shell answers this itself.
      return null;
    },

    async listRuns(): Promise<RunSummary[]> {
      return db().listRuns({ limit: 200 }).map(toSummary);
    },

    async listExperiments(): Promise<ExperimentSummary[]> {
      return db().listExperiments({ limit: 200 }).map(toExperimentSummary);
    },

    async getExperiment(id: number): Promise<ExperimentDetailView> {
      guard('getExperiment', [id]);
      const e = db().getExperiment(id);
      if (!e)
        throw new UserError(`There is no experiment ${id}.`, 'Choose one from the list.', 'no-experiment');
      return {
        ...toExperimentSummary(e),
        params: e.params,
        runs: e.run_list.map(toSummary),
        scenarios: e.scenarios.map((x) => scenarioView(x.row as ScenarioRow)),
      };
    },

    async getRun(id: number): Promise<RunDetailView> {
      guard('getRun', [id]);
      const s = db();
      const r = s.getRun(id);
      if (!r) throw new UserError(`There is no run ${id}.`, 'Choose a run from the list.', 'no-run');
      const trace = s.readTrace(id);
      const power: RunDetailView['power'] = [];
      if (trace) {
        const step = Math.max(1, Math.ceil(trace.rows.length / 500));
        for (let i = 0; i < trace.rows.length; i += step) {
          const [t, cpu, dram, gpu] = trace.rows[i]!;
          power.push({ t: t ?? 0, cpuW: cpu ?? 0, dramW: dram ?? 0, gpuW: gpu ?? 0 });
        }
      }
      return {
        ...toSummary(r),
        epochs: r.epochs.map((e) => ({
          epoch: e.epoch,
          loss: e.loss,
          accuracy: e.accuracy,
          valAccuracy: e.val_accuracy,
          seconds: e.seconds,
          best: e.best,
        })),
        power,
        powerSources: r.power?.sources ?? [],
      };
    },

    async listModels(): Promise<ModelSummary[]> {
      const out: ModelSummary[] = [];
      for (const r of db().listRuns({ kind: 'train', limit: 500 })) {
        const res = r.result as {
          model_dir?: string | null;
          top1?: number;
          top5?: number;
          best_epoch?: number;
        } | null;
        if (!res?.model_dir) continue;
        try {
          await fsp.access(path.join(res.model_dir, 'model.json'));
        } catch {
          continue; // deleted since
        }
        const p = r.params as { dataset?: string; depth?: number } | null;
        const meta = await readModelDir(res.model_dir).then(
          (x) => x.meta,
          () => null,
        );
        out.push({
          runId: r.id,
          dir: res.model_dir,
          dataset: p?.dataset ?? 'unknown',
          depth: p?.depth ?? null,
          epochs: r.epochs_done,
          bestEpoch: r.best_epoch,
          top1: res.top1 ?? null,
          top5: res.top5 ?? null,
          status: r.status as JobStatus,
          energy: r.energy as EnergyFigure | null,
          classNames: meta?.classNames ?? null,
          inputSize: meta?.inputSize ?? null,
          datasetId: meta?.datasetId ?? null,
        });
      }
      return out;
    },

    async startTraining(params: TrainParams): Promise<JobInfo> {
      guard('startTraining', [params]);
      return jobs.startTraining(params);
    },

    async resumeTraining(runId: number): Promise<JobInfo> {
      guard('resumeTraining', [runId]);
      return jobs.resumeTraining(runId);
    },

    async runDemo(params?: DemoParams): Promise<JobInfo> {
      guard('runDemo', params === undefined ? [] : [params]);
      return jobs.runDemo(params ?? {});
    },

    async cancelJob(id: string): Promise<boolean> {
      guard('cancelJob', [id]);
      return jobs.cancel(id);
    },

    async listJobs(): Promise<JobInfo[]> {
      db();
      return jobs.list();
    },

    async getSettings(): Promise<AppSettings> {
      return settingsNow();
    },

    async setSetting(key: SettingKey, value: unknown): Promise<AppSettings> {
      guard('setSetting', [key, value]);
      const s = db();
      if (key === 'backend' || key === 'workers') writeUiSetting(s, key, value);
      else if ((SETTING_KEYS as string[]).includes(key)) writeSetting(s, key, value);
      return settingsNow();
    },

    async getEnergySummary(): Promise<EnergySummary> {
      // Totals over every run, in SQL; the list shows the latest runs (oldest first).
      const s = db();
      const out: EnergySummary = { totals: energyTotals(s), runs: [] };
      const runs = s.listRuns({ limit: ENERGY_LIST_RUNS }).filter((r) => r.energy);
      for (const r of runs.reverse()) {
        const e = r.energy!;
        const measured = !isEstimatedSource(e.source);
        const fig = (x: EnergyFigure | null) => (x ? { kwh: x.kwh, co2eKg: x.co2e_kg } : null);
        const summary = toSummary(r);
        out.runs.push({
          runId: r.id,
          kind: summary.kind,
          label: r.label ?? `${r.kind} run ${r.id}`,
          status: summary.status,
          series: r.kind === 'train' ? 'training from scratch' : r.kind,
          measured,
          source: e.source,
          kwh: e.kwh,
          co2eKg: e.co2e_kg,
          fixedEpochs: fig(summary.energyFixedEpochs),
          untilBest: fig(summary.energyUntilBest),
        });
      }
      return out;
    },

    async startDecomposition(params: DecomposeParams): Promise<JobInfo> {
      guard('startDecomposition', [params]);
      db();
      return jobs.startDecomposition({ ...params, modelDir: path.resolve(params.modelDir) });
    },

    async listModuleSets(modelDir: string): Promise<ModuleSetSummary[]> {
      guard('listModuleSets', [modelDir]);
      return listModuleSets(path.resolve(modelDir));
    },

    async startScenario(params: ScenarioParams): Promise<JobInfo> {
      guard('startScenario', [params]);
      db();
      return jobs.startScenario({ ...params, models: params.models.map((m) => path.resolve(m)) });
    },

    async analyzeFault(dir: string, dataset: string | null): Promise<FaultView> {
      guard('analyzeFault', [dir, dataset]);
      return analyzeFault(
        { home, signal: new AbortController().signal, progress: () => undefined },
        path.resolve(dir),
        dataset,
      );
    },

    async startFaultyDemo(params?: FaultyDemoParams): Promise<JobInfo> {
      guard('startFaultyDemo', params === undefined ? [] : [params]);
      db();
      return jobs.startFaultyDemo(params ?? {});
    },

    async startWizard(params: WizardParams): Promise<JobInfo> {
      guard('startWizard', [params]);
      db();
      return jobs.startWizard({
        ...params,
        modelDir: path.resolve(params.modelDir),
        ...(params.betterModel ? { betterModel: path.resolve(params.betterModel) } : {}),
      });
    },

    async saveRepair(params: SaveRepairParams): Promise<RepairedSummary> {
      guard('saveRepair', [params]);
      return jobs.saveRepair(params);
    },

    async listRepaired(): Promise<RepairedSummary[]> {
      return listRepaired(home);
    },

    onProgress(listener: (event: ProgressEvent) => void): Unsubscribe {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    emitProgress,

    async close(): Promise<void> {
      jobs.cancelAll();
      await jobs.settle();
      store?.close();
      store = null;
    },
  };
  return api;
}
