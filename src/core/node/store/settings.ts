// Settings kept in the database's settings table (JSON values), with defaults. Energy
// settings; later UI code reads and writes them through readSettings / writeSetting.
// Precedence: an explicit option (CLI flag) > environment variable > stored value > default.
import { parseSetting, programSettingRefusal, type Settings } from '../../common/settings.ts';
import { UserError } from '../../common/errors.ts';
import { DEFAULT_INTENSITY_LBS_PER_KWH, DEFAULT_PUE } from '../energy/formula.ts';
import { DEFAULT_NVIDIA_SMI } from '../energy/nvidia.ts';
import { DEFAULT_POWERCAP_ROOT } from '../energy/powercap.ts';
import type { Store } from './store.ts';

export type { Settings };

export const DEFAULT_SETTINGS: Settings = {
  pue: DEFAULT_PUE,
  intensity: DEFAULT_INTENSITY_LBS_PER_KWH,
  sampleIntervalMs: 100,
  idleSeconds: 10,
  powercapRoot: DEFAULT_POWERCAP_ROOT,
  nvidiaSmi: DEFAULT_NVIDIA_SMI,
  baselinePatience: 3,
  baselineMaxEpochs: 30,
};

export const SETTING_KEYS = Object.keys(DEFAULT_SETTINGS) as (keyof Settings)[];

const ENV: Partial<Record<keyof Settings, string>> = {
  powercapRoot: 'DECOMPOSER_POWERCAP_ROOT',
  nvidiaSmi: 'DECOMPOSER_NVIDIA_SMI',
};

/** Checks one value with its setting's schema (a number may come as text: flags, environment); throws a UserError saying what is allowed. */
export function validateSetting<K extends keyof Settings>(key: K, value: unknown): Settings[K] {
  if (!SETTING_KEYS.includes(key))
    throw new UserError(
      `Unknown setting "${String(key)}".`,
      `Settings: ${SETTING_KEYS.join(', ')}.`,
      'setting',
    );
  return parseSetting(key, value, `Default: ${JSON.stringify(DEFAULT_SETTINGS[key])}.`) as Settings[K];
}

/** Stored settings over the defaults (environment variables not applied). */
export function readSettings(store: Store): Settings {
  const out: Settings = { ...DEFAULT_SETTINGS };
  for (const row of store.db.prepare('SELECT key, value_json FROM settings').all() as {
    key: string;
    value_json: string;
  }[]) {
    if (!SETTING_KEYS.includes(row.key as keyof Settings)) continue;
    if (programSettingRefusal(row.key)) continue; // never from the store (see PROGRAM_SETTINGS)
    try {
      (out as unknown as Record<string, unknown>)[row.key] = validateSetting(
        row.key as keyof Settings,
        JSON.parse(row.value_json),
      );
    } catch {
      // a bad stored value falls back to the default
    }
  }
  return out;
}

export function writeSetting<K extends keyof Settings>(store: Store, key: K, value: unknown): Settings[K] {
  const refusal = programSettingRefusal(key);
  if (refusal) throw new UserError(`Setting ${key} is not stored.`, `${refusal}.`, 'setting-program');
  const v = validateSetting(key, value);
  writeStoredValue(store, key, v);
  return v;
}

/**
 * One stored value by key (undefined when absent or unreadable), for settings the shells keep
 * beside the energy settings (the app's backend and workers); the caller checks its shape.
 */
export function readStoredValue(store: Store, key: string): unknown {
  const row = store.db.prepare('SELECT value_json FROM settings WHERE key = ?').get(key) as
    { value_json: string } | undefined;
  try {
    return row ? (JSON.parse(row.value_json) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

/** Stores one value by key (JSON), checked by the caller. */
export function writeStoredValue(store: Store, key: string, value: unknown): void {
  store.write(() =>
    store.db
      .prepare(
        `INSERT INTO settings (key, value_json, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at`,
      )
      .run(key, JSON.stringify(value), new Date().toISOString()),
  );
}

/** The settings in force: overrides > environment > stored > defaults. */
export function effectiveSettings(
  store: Store | null,
  overrides: Partial<Settings> = {},
  env = process.env,
): Settings {
  const s = store ? readSettings(store) : { ...DEFAULT_SETTINGS };
  for (const [k, name] of Object.entries(ENV) as [keyof Settings, string][]) {
    const v = env[name];
    if (v) (s as unknown as Record<string, unknown>)[k] = validateSetting(k, v);
  }
  for (const [k, v] of Object.entries(overrides) as [keyof Settings, unknown][])
    if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = validateSetting(k, v);
  return s;
}
