// The options several commands share, read in one place: numbers, the engine (backend,
// workers, data folder), the run store and the energy settings, and the context every
// measured run of a command is recorded in.
import type { BackendName } from '../core/common/api.ts';
import { UserError } from '../core/common/errors.ts';
import { parseBackendName } from '../core/node/engine/backend.ts';
import { parseTrainingDevice, setDefaultTrainingDevice } from '../core/node/engine/training.ts';
import type { MeasureContext } from '../core/node/measure/measured.ts';
import { dataHome } from '../core/node/paths.ts';
import { effectiveSettings } from '../core/node/store/settings.ts';
import { defaultDbFile, Store } from '../core/node/store/store.ts';
import type { Values } from './command.ts';
import { info } from './output.ts';
import { trainReporter } from './training.ts';

export const ENGINE_OPTIONS = {
  backend: { type: 'string' },
  device: { type: 'string' },
  workers: { type: 'string' },
  home: { type: 'string' },
} as const;

export const ENGINE_USAGE = `  --backend NAME      auto (default) | onnxruntime | tensorflow | wasm | cpu  (also DECOMPOSER_BACKEND)
  --device NAME       onnxruntime's device: cpu (default) | gpu | auto (GPU where its
                      provider starts, else CPU with the reason; also DECOMPOSER_DEVICE)
  --workers N         engine worker threads (default: one per core; 0 = none)
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)
  --json              print one JSON object as the result
  -h, --help          this help`;

/** Energy and store options of every command that runs work. */
export const ENERGY_OPTIONS = {
  'idle-seconds': { type: 'string' },
  db: { type: 'string' },
} as const;

export const ENERGY_USAGE = `  --idle-seconds N    measure idle power for N s before the run and subtract it
                      (default 10, a setting; 0 skips it, with a warning)
  --db FILE           the run database (default <home>/decomposer.db)`;

/** The run store's options, for commands that only read it. */
export const DB_OPTIONS = {
  db: { type: 'string' },
  home: { type: 'string' },
} as const;

export const DB_USAGE = `  --db FILE           the run database (default <home>/decomposer.db)
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)`;

/** Reads an integer option, with a clear message when it is not one. */
export function intOption(values: Record<string, unknown>, key: string, fallback: number, min = 0): number {
  const v = values[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UserError(
      `--${key} must be a whole number >= ${min}, not "${v}".`,
      `Run with --help to see the options.`,
      'usage',
    );
  return n;
}

export function numberOption(values: Record<string, unknown>, key: string, fallback: number): number {
  const v = values[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n))
    throw new UserError(
      `--${key} must be a number, not "${v}".`,
      `Run with --help to see the options.`,
      'usage',
    );
  return n;
}

export interface EngineSettings {
  backend: BackendName | null;
  workers: number | undefined;
  home: string;
}

export function engineSettings(v: Values): EngineSettings {
  // The device is a process default the training engines read (like the inference engine's).
  setDefaultTrainingDevice(
    parseTrainingDevice((v.device as string | undefined) ?? process.env.DECOMPOSER_DEVICE),
  );
  return {
    backend: parseBackendName((v.backend as string | undefined) ?? process.env.DECOMPOSER_BACKEND),
    workers: v.workers === undefined ? undefined : intOption(v, 'workers', 0, 0),
    home: homeOption(v),
  };
}

/** The data folder: --home, else DECOMPOSER_HOME, else ~/.decomposer. */
export function homeOption(v: Values): string {
  return dataHome((v.home as string | undefined) ?? process.env.DECOMPOSER_HOME);
}

export function inferenceOption(v: Values): 'auto' | 'onnxruntime' | 'tfjs' {
  return (v.inference as 'auto' | 'onnxruntime' | 'tfjs' | undefined) ?? 'auto';
}

/** The run database: --db, else the data folder's. */
export function dbFile(v: Values): string {
  return (v.db as string | undefined) ?? defaultDbFile(homeOption(v));
}

/** The run store (--db) for commands that read it. */
export function openStore(v: Values): Store {
  return Store.open(dbFile(v));
}

/**
 * Runs `work` with the run store (--db) and the settings in force (--idle-seconds over the
 * stored ones), as the context its measured runs are recorded in. The recorder's lines and
 * every training's progress go to stderr in every mode.
 */
export async function withMeasureContext<T>(
  v: Values,
  o: { signal?: AbortSignal },
  work: (ctx: MeasureContext) => Promise<T>,
): Promise<T> {
  const store = Store.open(dbFile(v));
  try {
    const settings = effectiveSettings(store, {
      idleSeconds: v['idle-seconds'] === undefined ? undefined : intOption(v, 'idle-seconds', 10, 0),
    });
    return await work({ store, settings, signal: o.signal, onInfo: info, onTraining: trainReporter() });
  } finally {
    store.close();
  }
}
