// The machine and the training engines the app reports (getSystemInfo).
import { v } from './schema.ts';

/** The tfjs backends (model building, and training where onnxruntime cannot). */
export type TfjsBackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Training engines: onnxruntime's training graphs, else a tfjs backend. */
export type BackendName = 'onnxruntime' | TfjsBackendName;

/** A training engine as a person chooses it: auto (the fastest that loads) or one by name. */
export const BACKEND_CHOICES = ['auto', 'onnxruntime', 'tensorflow', 'wasm', 'cpu'] as const;
export const BACKEND_CHOICE = v.picklist(BACKEND_CHOICES, `must be ${BACKEND_CHOICES.join(', ')}`);

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
