// The app's settings, one schema each: the API's setSetting, the stored values read back and
// the command line's and the environment's overrides all check a value with its setting's
// schema here. Those that name programs to run are never taken from the API or the store.
import { EPOCHS, IDLE_SECONDS, INTENSITY, PATIENCE, PUE, SAMPLE_INTERVAL_MS, WORKERS } from './bounds.ts';
import { UserError } from './errors.ts';
import { describeIssues, PATH, v } from './schema.ts';
import { BACKEND_CHOICE } from './system.ts';
import { ATTRIBUTIONS } from './energy.ts';

/** How a run's energy is told apart from the rest of the machine's (common/energy.ts). */
export const ATTRIBUTION = v.picklist(ATTRIBUTIONS, `must be ${ATTRIBUTIONS.join(' or ')}`);

/**
 * The settings the store keeps (and a flag or the environment may override). A number may
 * come as text (a flag, the environment): a plain decimal within its bound.
 */
export const STORED_SETTINGS = {
  /** Power usage effectiveness of the data centre (the paper: 1.58). */
  pue: PUE.text,
  /** Carbon intensity, lbs CO2e per kWh (the paper: 0.954). */
  intensity: INTENSITY.text,
  /** Power sampling interval, ms. */
  sampleIntervalMs: SAMPLE_INTERVAL_MS.text,
  /** Idle power measurement before each run, s (0 skips it, with a warning). */
  idleSeconds: IDLE_SECONDS.text,
  /** process (each run's share of the machine's dynamic power) or machine (all of it minus idle). */
  attribution: ATTRIBUTION,
  powercapRoot: PATH,
  nvidiaSmi: PATH,
  /** A baseline trained from scratch stops once validation accuracy has not improved for this many epochs... */
  baselinePatience: PATIENCE.text,
  /** ... and after this many epochs at most. */
  baselineMaxEpochs: EPOCHS.text,
};

export type Settings = v.InferOutput<v.ObjectSchema<typeof STORED_SETTINGS, undefined>>;

/** Every setting the app shows and sets: the stored ones and the engine's. */
export const APP_SETTINGS = {
  ...STORED_SETTINGS,
  /** Training backend: auto or a forced one. */
  backend: BACKEND_CHOICE,
  /** Engine worker threads (null: one per core); the machine's own bound is the app's to apply. */
  workers: v.nullable(WORKERS.schema),
};

export type SettingKey = keyof typeof APP_SETTINGS;

/** The settings as the app shows them: the stored ones, the engine's, and the data folder. */
export type AppSettings = v.InferOutput<v.ObjectSchema<typeof APP_SETTINGS, undefined>> & {
  /** The data folder (set with DECOMPOSER_HOME or --home; read only here). */
  dataHome: string;
};

export const SETTING_NAMES = Object.keys(APP_SETTINGS) as readonly SettingKey[];

export const isSettingKey = (key: unknown): key is SettingKey =>
  typeof key === 'string' && Object.hasOwn(APP_SETTINGS, key);

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
  const p = isSettingKey(key) ? PROGRAM_SETTINGS[key] : undefined;
  return p
    ? `${key} names a program Decomposer runs, so the app cannot set it; set it on the command line (${p.flag}) or with the environment variable ${p.env} before starting Decomposer`
    : null;
}

/** The settings that are numbers within a bound (the others are a path, a choice, or workers). */
const NUMBER_SETTINGS: readonly SettingKey[] = [
  'pue',
  'intensity',
  'sampleIntervalMs',
  'idleSeconds',
  'baselinePatience',
  'baselineMaxEpochs',
];

/**
 * What is wrong with a call setting `key` to `value`, or null when nothing is: an unknown or
 * program setting, or a value of the wrong shape (a call that is broken). A number outside its
 * setting's bound is a number the user typed: the call is sound, and storing it is refused
 * with the rule (parseSetting, the user's mistake to fix, not a broken call).
 */
export function settingProblem(key: unknown, value: unknown): string | null {
  if (!isSettingKey(key)) return `the setting: must be one of ${SETTING_NAMES.join(', ')}`;
  const program = programSettingRefusal(key);
  if (program) return program;
  const shape = NUMBER_SETTINGS.includes(key) ? v.pipe(v.number(), v.finite()) : APP_SETTINGS[key];
  const r = v.safeParse(shape, value);
  return r.success ? null : describeIssues(r.issues, { whole: key });
}

/** A setting's value checked with its schema (text read as a number where it is one); `hint` says what to do. */
export function parseSetting<K extends SettingKey>(
  key: K,
  value: unknown,
  hint: string,
): v.InferOutput<(typeof APP_SETTINGS)[K]> {
  const r = v.safeParse(APP_SETTINGS[key], value);
  if (r.success) return r.output as v.InferOutput<(typeof APP_SETTINGS)[K]>;
  throw new UserError(
    `The setting is not valid: ${describeIssues(r.issues, { whole: key })}.`,
    hint,
    'setting',
  );
}
