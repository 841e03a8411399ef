// The app's settings: the energy settings of the store, and the backend and workers the app
// keeps beside them (which the job runner reads as the engine in force).
import {
  APP_SETTINGS,
  type AppSettings,
  type BackendName,
  type DecomposerApi,
  type SettingKey,
} from '../../common/api.ts';
import { within } from '../../common/bounds.ts';
import { v } from '../../common/schema.ts';
import { parseBackendName } from '../graph/backend.ts';
import { checkWorkers, workersHere } from '../engine/training.ts';
import { SETTING_KEYS } from '../store/settings.ts';
import type { Store } from '../store/store.ts';
import { guard, type AppContext } from './context.ts';

const UI_KEYS = { backend: 'ui.backend', workers: 'ui.workers' } as const;

/** The stored worker count, when this machine takes it (a database moved from a bigger one may hold more). */
function storedWorkers(store: Store): number | null {
  const w = store.settings.readValue(UI_KEYS.workers);
  return within(workersHere(), w) ? w : null;
}

/** The stored backend, read with its setting's schema ('auto' when none or not one). */
function storedBackend(store: Store): AppSettings['backend'] {
  const b = store.settings.readValue(UI_KEYS.backend);
  return v.is(APP_SETTINGS.backend, b) ? b : 'auto';
}

/** Backend and worker count in force: the app's settings over the shell's choice. */
export function engineInForce(
  store: Store,
  forced: BackendName | null,
): { backend: BackendName | null; workers: number | undefined } {
  const b = storedBackend(store);
  return {
    backend: b !== 'auto' ? parseBackendName(b) : forced,
    workers: storedWorkers(store) ?? undefined,
  };
}

function settingsNow(ctx: AppContext): AppSettings {
  const s = ctx.db();
  return { ...s.settings.read(), backend: storedBackend(s), workers: storedWorkers(s), dataHome: ctx.home };
}

export function settingsHandlers(ctx: AppContext): Pick<DecomposerApi, 'getSettings' | 'setSetting'> {
  return {
    async getSettings(): Promise<AppSettings> {
      return settingsNow(ctx);
    },

    async setSetting(key: SettingKey, value: unknown): Promise<AppSettings> {
      guard('setSetting', [key, value]);
      const s = ctx.db();
      if (key === 'workers' && value !== null) checkWorkers(value as number);
      if (key === 'backend' || key === 'workers') s.settings.writeValue(UI_KEYS[key], value);
      else if ((SETTING_KEYS as string[]).includes(key)) s.settings.write(key, value);
      return settingsNow(ctx);
    },
  };
}
