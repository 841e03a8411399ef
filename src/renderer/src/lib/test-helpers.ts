// A fake of the typed API for component tests: every method answers from `overrides` or a
// harmless default, and progress events are pushed with `emit`.
import type { DecomposerApi, JobInfo, ProgressEvent } from '../../../core/common/api.ts';

export type FakeApi = DecomposerApi & {
  emit(e: ProgressEvent): void;
  listeners: Set<(e: ProgressEvent) => void>;
  calls: { method: string; args: unknown[] }[];
};

export function job(over: Partial<JobInfo> = {}): JobInfo {
  return {
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
    getRun: async () => {
      throw new Error('no run');
    },
    listModels: async () => [],
    startTraining: async () => job(),
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
    startScenario: async () => job({ kind: 'scenario', id: 'job-scenario' }),
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
