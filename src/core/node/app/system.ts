// The machine and the training engine the next training uses.
import os from 'node:os';
import type { BackendName, BackendReport, DecomposerApi, SystemInfo } from '../../common/api.ts';
import { trainingReport } from '../engine/training.ts';
import pkg from '../../../../package.json' with { type: 'json' };
import type { AppContext } from './context.ts';

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

export function systemHandlers(ctx: AppContext): Pick<DecomposerApi, 'getSystemInfo' | 'pickPath'> {
  return {
    async getSystemInfo(): Promise<SystemInfo> {
      const backend = await startBackend(ctx.forcedBackend);
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

    async pickPath(): Promise<string | null> {
      // No native picker in plain Node: the Electron shell answers this itself.
      return null;
    },
  };
}
