// The options several commands share, read in one place: numbers, the engine (backend,
// workers, data folder), the run store and the energy settings, and the context every
// measured run of a command is recorded in.
import type { BackendName } from '../core/common/api.ts';
import { IDLE_SECONDS, parseBounded, type Bound } from '../core/common/bounds.ts';
import { UserError } from '../core/common/errors.ts';
import { parseInferenceEngine, type InferenceEngineName } from '../core/node/inference/index.ts';
import { parseBackendName } from '../core/node/graph/backend.ts';
import { parseTrainingDevice, setDefaultTrainingDevice, workersHere } from '../core/node/engine/training.ts';
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
  --workers N         engine worker threads (default: one per core; 0 = none; at most 4 per core)
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)
  --json              print one JSON object as the result
  -h, --help          this help`;

/** Energy and store options of every command that runs work. */
export const ENERGY_OPTIONS = {
  'idle-seconds': { type: 'string' },
  db: { type: 'string' },
} as const;

export const ENERGY_USAGE = `  --idle-seconds N    measure idle power for N s (${IDLE_SECONDS.range}) before the run and subtract
                      it (default 10, a setting; 0 skips it, with a warning)
  --db FILE           the run database (default <home>/decomposer.db)`;

/** The run store's options, for commands that only read it. */
export const DB_OPTIONS = {
  db: { type: 'string' },
  home: { type: 'string' },
} as const;

export const DB_USAGE = `  --db FILE           the run database (default <home>/decomposer.db)
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)`;

/**
 * A number option within its bound (core/common/bounds.ts, the same the API and the settings
 * use), read as a plain decimal; one message saying the rule when it is not. Undefined when
 * the option is not given and there is no fallback.
 */
export function numberOption(values: Values, key: string, bound: Bound): number | undefined;
export function numberOption(values: Values, key: string, bound: Bound, fallback: number): number;
export function numberOption(
  values: Values,
  key: string,
  bound: Bound,
  fallback?: number,
): number | undefined {
  const given = values[key];
  if (given === undefined) return fallback;
  const n = parseBounded(String(given), bound);
  if (n === null)
    throw new UserError(
      `--${key} must be ${bound.rule}, not ${JSON.stringify(String(given).slice(0, 40))}.`,
      `See --help for what --${key} sets.`,
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
    workers: numberOption(v, 'workers', workersHere()),
    home: homeOption(v),
  };
}

/** The data folder: --home, else DECOMPOSER_HOME, else ~/.decomposer. */
export function homeOption(v: Values): string {
  return dataHome((v.home as string | undefined) ?? process.env.DECOMPOSER_HOME);
}

/** --inference, checked: auto (default), onnxruntime or tfjs. */
export function inferenceOption(v: Values): 'auto' | InferenceEngineName {
  return parseInferenceEngine(v.inference as string | undefined) ?? 'auto';
}

/** The run database: --db, else the data folder's. */
export function dbFile(v: Values): string {
  return (v.db as string | undefined) ?? defaultDbFile(homeOption(v));
}

/** The run store (--db) for commands that read it. */
export function openStore(v: Values): Store {
  return Store.open(dbFile(v));
}

/** --idle-seconds (over the stored setting), checked with the setting's own bound. */
export function idleSecondsOption(v: Values): number | undefined {
  return numberOption(v, 'idle-seconds', IDLE_SECONDS);
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
  const idleSeconds = idleSecondsOption(v); // refused before the store is opened
  const store = Store.open(dbFile(v));
  try {
    const settings = effectiveSettings(store.settings, { idleSeconds });
    return await work({ store, settings, signal: o.signal, onInfo: info, onTraining: trainReporter() });
  } finally {
    store.close();
  }
}
