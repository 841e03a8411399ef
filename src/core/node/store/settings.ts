// Settings kept in the database's settings table (JSON values), with defaults. Energy
// settings; the app and the CLI read and write them through store.settings (read / write).
// Precedence: an explicit option (CLI flag) > environment variable > stored value > default.
import { parseSetting, programSettingRefusal, type Settings } from '../../common/settings.ts';
import { UserError } from '../../common/errors.ts';
import { v } from '../../common/schema.ts';
import { DEFAULT_INTENSITY_LBS_PER_KWH, DEFAULT_PUE } from '../energy/formula.ts';
import { DEFAULT_NVIDIA_SMI } from '../energy/nvidia.ts';
import { DEFAULT_POWERCAP_ROOT } from '../energy/powercap.ts';
import { iso, readJson, readRows, rowName, type StoreAccess } from './rows.ts';

export type { Settings };

export const DEFAULT_SETTINGS: Settings = {
  pue: DEFAULT_PUE,
  intensity: DEFAULT_INTENSITY_LBS_PER_KWH,
  sampleIntervalMs: 100,
  idleSeconds: 10,
  attribution: 'process',
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

const SettingRow = v.object({ key: v.string(), value_json: v.unknown() });

const isSettingKey = (key: string): key is keyof Settings => SETTING_KEYS.some((k) => k === key);

/** The settings table: the energy settings (checked), and values the shells keep beside them. */
export class SettingsRepository {
  private readonly s: StoreAccess;

  constructor(s: StoreAccess) {
    this.s = s;
  }

  /** Stored settings over the defaults (environment variables not applied). */
  read(): Settings {
    const out: Settings = { ...DEFAULT_SETTINGS };
    const rows = this.s.read(() => this.s.db.prepare('SELECT key, value_json FROM settings').all());
    for (const row of readRows(this.s, SettingRow, rows, rowName('setting', 'key'))) {
      if (!isSettingKey(row.key)) continue;
      if (programSettingRefusal(row.key)) continue; // never from the store (see PROGRAM_SETTINGS)
      const value = readJson(
        this.s,
        v.unknown(),
        row.value_json,
        undefined,
        `setting ${row.key}`,
        'stored value',
      );
      if (value === undefined) continue;
      try {
        Object.assign(out, { [row.key]: validateSetting(row.key, value) });
      } catch (e) {
        // a bad stored value falls back to the default
        this.s.warn(
          `setting ${row.key}: its stored value is not used (${e instanceof Error ? e.message : String(e)}); the default ${JSON.stringify(DEFAULT_SETTINGS[row.key])} is.`,
        );
      }
    }
    return out;
  }

  /** Checks and stores one setting; returns the value stored. */
  write<K extends keyof Settings>(key: K, value: unknown): Settings[K] {
    const refusal = programSettingRefusal(key);
    if (refusal) throw new UserError(`Setting ${key} is not stored.`, `${refusal}.`, 'setting-program');
    const checked = validateSetting(key, value);
    this.writeValue(key, checked);
    return checked;
  }

  /**
   * One stored value by key (undefined when absent or unreadable), for settings the shells keep
   * beside the energy settings (the app's backend and workers); the caller checks its shape.
   */
  readValue(key: string): unknown {
    const row = v.safeParse(
      v.object({ value_json: v.unknown() }),
      this.s.read(() => this.s.db.prepare('SELECT value_json FROM settings WHERE key = ?').get(key)),
    );
    return row.success
      ? readJson(this.s, v.unknown(), row.output.value_json, undefined, `setting ${key}`, 'stored value')
      : undefined;
  }

  /** Stores one value by key (JSON), checked by the caller. */
  writeValue(key: string, value: unknown): void {
    this.s.write(() =>
      this.s.db
        .prepare(
          `INSERT INTO settings (key, value_json, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at`,
        )
        .run(key, JSON.stringify(value), iso()),
    );
  }
}

/** The settings in force: overrides > environment > stored (`stored`: a store's settings) > defaults. */
export function effectiveSettings(
  stored: SettingsRepository | null,
  overrides: Partial<Settings> = {},
  env = process.env,
): Settings {
  const s = stored ? stored.read() : { ...DEFAULT_SETTINGS };
  for (const [k, name] of Object.entries(ENV) as [keyof Settings, string][]) {
    const v = env[name];
    if (v) (s as unknown as Record<string, unknown>)[k] = validateSetting(k, v);
  }
  for (const [k, v] of Object.entries(overrides) as [keyof Settings, unknown][])
    if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = validateSetting(k, v);
  return s;
}
