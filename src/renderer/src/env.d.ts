import type { DecomposerApi } from '../../core/common/api.ts';

declare global {
  interface Window {
    /** Set by the Electron preload; absent when the page is served by the web shell. */
    decomposer?: DecomposerApi;
  }
}
