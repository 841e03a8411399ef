// The core API in plain Node: what every shell (Electron utility process, web shell, tests)
// serves to the renderer. It never imports electron or a shell. The methods are grouped by
// feature in app/ (system, datasets, runs, training, analysis, wizard, settings); this file
// wires them to one store, one job runner and the progress subscribers.
import type { BackendName, DecomposerApi, ProgressEvent, Unsubscribe } from '../common/api.ts';
import { analysisHandlers } from './app/analysis.ts';
import type { AppContext } from './app/context.ts';
import { datasetHandlers } from './app/datasets.ts';
import { modelHandlers } from './app/models.ts';
import { runsHandlers } from './app/runs.ts';
import { engineInForce, settingsHandlers } from './app/settings.ts';
import { systemHandlers } from './app/system.ts';
import { trainingHandlers } from './app/training.ts';
import { wizardHandlers } from './app/wizard.ts';
import { setDefaultInferenceEngine, type InferenceEngineName } from './inference/index.ts';
import { JobManager } from './jobs/jobs.ts';
import { dataHome } from './paths.ts';
import { defaultDbFile, Store } from './store/store.ts';

export interface CoreApiOptions {
  /** Force a training backend (null or absent: the setting, else the fastest that loads). */
  backend?: BackendName | null;
  /** The data folder (default ~/.decomposer; the shells pass DECOMPOSER_HOME). */
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

export function createCoreApi(opts: CoreApiOptions = {}): CoreApi {
  const listeners = new Set<(event: ProgressEvent) => void>();
  const home = dataHome(opts.home);
  const forcedBackend = opts.backend ?? null;
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

  function emitProgress(event: ProgressEvent): void {
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch {
        // A failing subscriber must not stop the others or the job that reports.
      }
    }
  }

  const jobs = new JobManager({
    home,
    store: db,
    engine: () => engineInForce(db(), forcedBackend),
    emit: emitProgress,
  });
  const ctx: AppContext = { home, db, jobs, forcedBackend };

  return {
    jobs,
    ...systemHandlers(ctx),
    ...datasetHandlers(ctx),
    ...runsHandlers(ctx),
    ...trainingHandlers(ctx),
    ...modelHandlers(ctx),
    ...settingsHandlers(ctx),
    ...analysisHandlers(ctx),
    ...wizardHandlers(ctx),

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
}
