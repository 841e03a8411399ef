// The core API in plain Node: what every shell (Electron utility process, web shell, tests)
// serves to the renderer. It never imports electron or a shell.
import os from 'node:os';
import type { BackendName, DecomposerApi, ProgressEvent, SystemInfo, Unsubscribe } from '../common/api.ts';
import type { DatasetInfo } from '../common/dataset.ts';
import { initBackend } from './engine/backend.ts';
import pkg from '../../../package.json' with { type: 'json' };

export interface CoreApiOptions {
  /** Force a training backend (null or absent: the fastest that loads). */
  backend?: BackendName | null;
  /** Where datasets and models are cached. */
  cacheDir?: string;
}

/** The core API plus what only the hosting shell may do: publish progress to subscribers. */
export interface CoreApi extends DecomposerApi {
  emitProgress(event: ProgressEvent): void;
}

export function createCoreApi(opts: CoreApiOptions = {}): CoreApi {
  const listeners = new Set<(event: ProgressEvent) => void>();

  return {
    async getSystemInfo(): Promise<SystemInfo> {
      const backend = await initBackend(opts.backend ?? null);
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
      return listEmbeddedDatasets();
    },

    onProgress(listener: (event: ProgressEvent) => void): Unsubscribe {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    emitProgress(event: ProgressEvent): void {
      for (const l of [...listeners]) {
        try {
          l(event);
        } catch {
          // A failing subscriber must not stop the others or the job that reports.
        }
      }
    },
  };
}

/** The embedded synthetic datasets, described without generating their images. */
function listEmbeddedDatasets(): DatasetInfo[] {
  return [];
}
