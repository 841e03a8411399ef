// The one place that knows there is more than one shell: the Electron preload exposes the
// API as window.decomposer; otherwise the page was served by the web shell.
import type { DecomposerApi } from '../../../core/common/api.ts';
import { createWebApi } from './web.ts';

export function getApi(): DecomposerApi {
  return window.decomposer ?? createWebApi(window.location);
}

/** Only the Electron shell has a native file picker; in a browser the user types paths. */
export function hasNativePicker(): boolean {
  return window.decomposer !== undefined;
}
