// The app's settings, and those that name programs to run (never taken from the store).
import {
  EPOCHS,
  IDLE_SECONDS,
  INTENSITY,
  PATIENCE,
  PUE,
  SAMPLE_INTERVAL_MS,
  WORKERS_CEILING,
  parseBounded,
  within,
  type Bound,
} from './bounds.ts';
import { isInt, isPathString } from './rules.ts';
import type { BackendName } from './system.ts';

/** The settings the store keeps (and a flag or the environment may override). */
export interface Settings {
  /** Power usage effectiveness of the data centre (the paper: 1.58). */
  pue: number;
  /** Carbon intensity, lbs CO2e per kWh (the paper: 0.954). */
  intensity: number;
  /** Power sampling interval, ms. */
  sampleIntervalMs: number;
  /** Idle power measurement before each run, s (0 skips it, with a warning). */
  idleSeconds: number;
  powercapRoot: string;
  nvidiaSmi: string;
  /** A baseline trained from scratch stops once validation accuracy has not improved for this many epochs... */
  baselinePatience: number;
  /** ... and after this many epochs at most. */
  baselineMaxEpochs: number;
}

/** The settings as the app shows them: the stored ones, the engine's, and the data folder. */
export interface AppSettings extends Settings {
  /** Training backend: auto or a forced one. */
  backend: 'auto' | BackendName;
  /** Engine worker threads (null: one per core). */
  workers: number | null;
  /** The data folder (set with DECOMPOSER_HOME or --home; read only here). */
  dataHome: string;
}

export type SettingKey = Exclude<keyof AppSettings, 'dataHome'>;

export const SETTING_NAMES: readonly SettingKey[] = [
  'pue',
  'intensity',
  'sampleIntervalMs',
  'idleSeconds',
  'powercapRoot',
  'nvidiaSmi',
  'baselinePatience',
  'baselineMaxEpochs',
  'backend',
  'workers',
];

/**
 * Settings that name a program the core runs. Whoever can call the API (the renderer, a page
 * holding the web shell's token) must not choose what runs as the user, so these are set only
 * on the command line or in the environment, never through the API or the store.
 */
export const PROGRAM_SETTINGS: Readonly<Partial<Record<SettingKey, { flag: string; env: string }>>> = {
  nvidiaSmi: { flag: '--nvidia-smi', env: 'DECOMPOSER_NVIDIA_SMI' },
};

/** Why a program setting cannot be set here, or null for any other setting. */
export function programSettingRefusal(key: string): string | null {
  const p = PROGRAM_SETTINGS[key as SettingKey];
  return p
    ? `${key} names a program Decomposer runs, so the app cannot set it; set it on the command line (${p.flag}) or with the environment variable ${p.env} before starting Decomposer`
    : null;
}

/**
 * The stored settings' values, each bound written once (bounds.ts): the store refuses a value
 * outside it (from the app, a flag, the environment or the database); the API's check of a
 * call only asks for the right shape.
 */
const NUMBER_RULES: Readonly<Partial<Record<SettingKey, Bound>>> = {
  pue: PUE,
  intensity: INTENSITY,
  sampleIntervalMs: SAMPLE_INTERVAL_MS,
  idleSeconds: IDLE_SECONDS,
  baselinePatience: PATIENCE,
  baselineMaxEpochs: EPOCHS,
};

const numberRule = (key: string): Bound | null =>
  Object.hasOwn(NUMBER_RULES, key) ? NUMBER_RULES[key as SettingKey]! : null;

/** What a stored setting's value must be, when it is not (e.g. "a number from 1 to 5"); null when it fits. */
export function settingValueProblem(key: string, value: unknown): string | null {
  const r = numberRule(key);
  if (!r) return isPathString(value) ? null : 'a non-empty string (a path or a command)';
  return within(r, value) ? null : r.rule;
}

/**
 * A setting's value as given: a number setting given as text (a flag, the environment) read
 * as a plain decimal within its bound, else left as it is for settingValueProblem to refuse.
 */
export function settingFromText(key: string, value: unknown): unknown {
  const r = numberRule(key);
  return r && typeof value === 'string' ? (parseBounded(value, r) ?? value) : value;
}

// The argument checks of this feature's calls (null: fine; else what is wrong).

export function checkSetting(args: unknown[]): string | null {
  const [key, value] = args;
  if (!SETTING_NAMES.includes(key as SettingKey))
    return `unknown setting ${JSON.stringify(String(key)).slice(0, 60)}`;
  const program = programSettingRefusal(key as string);
  if (program) return program;
  if (key === 'backend')
    return ['auto', 'onnxruntime', 'tensorflow', 'wasm', 'cpu'].includes(value as string)
      ? null
      : 'backend must be auto, onnxruntime, tensorflow, wasm or cpu';
  if (key === 'workers')
    // The shape only: the machine's own bound (workersBound) is the app's to apply.
    return value === null || isInt(value, 0, WORKERS_CEILING)
      ? null
      : `workers must be a whole number from 0 to ${WORKERS_CEILING}, or null`;
  // The shape only: whether a value is allowed is the store's to say (settingValueProblem,
  // refused there as the user's mistake, not as a broken call).
  if (numberRule(key as string))
    return typeof value === 'number' && Number.isFinite(value) ? null : `${String(key)} must be a number`;
  return isPathString(value) ? null : `${String(key)} must be a path`;
}
