// The preload (sandboxed, bundled to CommonJS): exposes exactly the typed API to the page as
// `window.decomposer`, one method per call. The page never sees ipcRenderer.
import { contextBridge, ipcRenderer } from 'electron';
import type { IpcRendererEvent } from 'electron';
import { API_METHODS, checkCall, fromWireError, isProgressEvent } from '../core/common/api.ts';
import type { ApiMethod, DecomposerApi, ProgressEvent, Unsubscribe, WireResult } from '../core/common/api.ts';
import { describeError } from '../core/common/errors.ts';

async function call(method: ApiMethod, args: unknown[]): Promise<unknown> {
  // Arguments are checked here too, so a bad call fails with a readable message in the page.
  const problem = checkCall(method, args);
  if (problem) throw new Error(problem);
  const result = (await ipcRenderer.invoke(`decomposer:${method}`, ...args)) as WireResult;
  if (result.ok) return result.value;
  // contextBridge keeps only an Error's message: put the hint into it.
  throw new Error(describeError(fromWireError(result.error)));
}

const methods = Object.fromEntries(
  (Object.keys(API_METHODS) as ApiMethod[]).map((m) => [m, (...args: unknown[]) => call(m, args)]),
) as Omit<DecomposerApi, 'onProgress'>;

const api: DecomposerApi = {
  ...methods,
  onProgress(listener: (event: ProgressEvent) => void): Unsubscribe {
    if (typeof listener !== 'function') throw new TypeError('onProgress needs a function.');
    const handler = (_e: IpcRendererEvent, event: unknown): void => {
      if (isProgressEvent(event)) listener(event);
    };
    ipcRenderer.on('decomposer:progress', handler);
    return () => {
      ipcRenderer.removeListener('decomposer:progress', handler);
    };
  },
};

contextBridge.exposeInMainWorld('decomposer', api);
