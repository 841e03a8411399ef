// The machine and the training engines the app reports (getSystemInfo).
/** The tfjs backends (model building, and training where onnxruntime cannot). */
export type TfjsBackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Training engines: onnxruntime's training graphs, else a tfjs backend. */
export type BackendName = 'onnxruntime' | TfjsBackendName;

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
