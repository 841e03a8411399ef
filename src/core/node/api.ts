// The core API in plain Node: what every shell (Electron utility process, web shell, tests)
// serves to the renderer. It never imports electron or a shell.
import os from 'node:os';
import type {
  BackendName,
  BackendReport,
  DecomposerApi,
  ProgressEvent,
  SystemInfo,
  Unsubscribe,
} from '../common/api.ts';
import type { DatasetInfo } from '../common/dataset.ts';
import { initBackend } from './engine/backend.ts';
import { datasetId, embeddedDatasets } from './data/index.ts';
import { SYNTHETIC_DEFAULTS, syntheticClassNames } from './data/synthetic.ts';
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

// initBackend is not safe to run twice at once (two tf.setBackend calls race), so every
// API instance in this process shares one in-flight initialisation per requested backend.
const backendStarts = new Map<BackendName | null, Promise<BackendReport>>();
function startBackend(force: BackendName | null): Promise<BackendReport> {
  let p = backendStarts.get(force);
  if (!p) {
    // Different requests still run one after another.
    const previous = Promise.allSettled([...backendStarts.values()]);
    p = previous.then(() => initBackend(force));
    p.catch(() => backendStarts.delete(force));
    backendStarts.set(force, p);
  }
  return p;
}

export function createCoreApi(opts: CoreApiOptions = {}): CoreApi {
  const listeners = new Set<(event: ProgressEvent) => void>();

  return {
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

/** The embedded datasets, described without generating their images. */
function listEmbeddedDatasets(): DatasetInfo[] {
  const out: DatasetInfo[] = [];
  for (const spec of embeddedDatasets()) {
    if (spec.kind !== 'synthetic') continue;
    const classNames = syntheticClassNames(spec.name);
    const seed = spec.seed ?? SYNTHETIC_DEFAULTS.seed;
    out.push({
      id: datasetId(spec),
      kind: 'synthetic',
      name: `${spec.name} ${spec.size}x${spec.size}`,
      imageSize: spec.size,
      classNames,
      trainCount: (spec.trainPerClass ?? SYNTHETIC_DEFAULTS.trainPerClass) * classNames.length,
      testCount: (spec.testPerClass ?? SYNTHETIC_DEFAULTS.testPerClass) * classNames.length,
      source: `embedded (seed ${seed})`,
    });
  }
  return out;
}
