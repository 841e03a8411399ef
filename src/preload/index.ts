// The preload (sandboxed, bundled to CommonJS): exposes exactly the typed API to the page as
// `window.decomposer`, one method per call. The page never sees ipcRenderer.
import { contextBridge, ipcRenderer } from 'electron';
import type { IpcRendererEvent } from 'electron';
import { fromWireError, isProgressEvent } from '../core/common/api.ts';
import type { ApiMethod, DecomposerApi, ProgressEvent, Unsubscribe, WireResult } from '../core/common/api.ts';
import type { DatasetInfo } from '../core/common/dataset.ts';
import type { SystemInfo } from '../core/common/api.ts';
import { describeError } from '../core/common/errors.ts';

async function call<T>(method: ApiMethod): Promise<T> {
  const result = (await ipcRenderer.invoke(`decomposer:${method}`)) as WireResult<T>;
  if (result.ok) return result.value;
  // contextBridge keeps only an Error's message: put the hint into it.
  throw new Error(describeError(fromWireError(result.error)));
}

const api: DecomposerApi = {
  getSystemInfo: () => call<SystemInfo>('getSystemInfo'),
  listDatasets: () => call<DatasetInfo[]>('listDatasets'),
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
