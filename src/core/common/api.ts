// The one typed API the renderer talks to. The Electron preload exposes it over IPC and the
// web shell bridges it over HTTP and Server-Sent Events; the renderer does not know which is behind it.
import type { DatasetInfo, Progress } from './dataset.ts';
import { isUserError, UserError } from './errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

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

export interface DecomposerApi {
  getSystemInfo(): Promise<SystemInfo>;
  listDatasets(): Promise<DatasetInfo[]>;
  /** Progress of running jobs, pushed as it happens. */
  onProgress(listener: (event: ProgressEvent) => void): Unsubscribe;
}

/** Progress events are pushed to subscribers; subscribe returns an unsubscribe function. */
export type Unsubscribe = () => void;
export interface ProgressEvent {
  jobId: string;
  progress: Progress;
}

// ---- The wire format every bridge uses (Electron IPC, utility process, web shell) ----

/** The request/response methods of the API: every shell exposes exactly these. */
export type ApiMethod = 'getSystemInfo' | 'listDatasets';

/** Each method's argument count; a bridge rejects any call that does not match. */
export const API_METHODS: Readonly<Record<ApiMethod, { arity: number }>> = {
  getSystemInfo: { arity: 0 },
  listDatasets: { arity: 0 },
};

export function isApiMethod(value: unknown): value is ApiMethod {
  return typeof value === 'string' && Object.hasOwn(API_METHODS, value);
}

/** Checks a call that crossed a process boundary; returns a reason when it is invalid. */
export function checkCall(method: unknown, args: unknown): string | null {
  if (!isApiMethod(method)) return `unknown API method ${JSON.stringify(String(method)).slice(0, 80)}`;
  if (!Array.isArray(args)) return `arguments of ${method} must be an array`;
  const { arity } = API_METHODS[method];
  if (args.length !== arity) return `${method} takes ${arity} argument(s), got ${args.length}`;
  return null;
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
  const v = value as { jobId?: unknown; progress?: { stage?: unknown; fraction?: unknown } };
  return (
    typeof v.jobId === 'string' &&
    typeof v.progress === 'object' &&
    v.progress !== null &&
    typeof v.progress.stage === 'string' &&
    (v.progress.fraction === null || typeof v.progress.fraction === 'number')
  );
}
