// Runs the core API in an Electron utility process (src/main/worker.ts), so nothing heavy
// ever runs on the main process's thread. Calls go out as {type:'call', id, method, args}
// and come back as {type:'result', id, result}; progress events are pushed as
// {type:'progress', event}. The process is started on first use and restarted after a crash.
import { utilityProcess } from 'electron';
import type { UtilityProcess } from 'electron';
import { isProgressEvent } from '../core/common/api.ts';
import type { ApiMethod, ProgressEvent, WireResult } from '../core/common/api.ts';

export interface CoreHost {
  call(method: ApiMethod, args: unknown[]): Promise<WireResult>;
  onProgress(listener: (event: ProgressEvent) => void): () => void;
  stop(): void;
}

interface Pending {
  resolve(result: WireResult): void;
}

function isResultMessage(m: unknown): m is { type: 'result'; id: number; result: WireResult } {
  if (typeof m !== 'object' || m === null) return false;
  const v = m as { type?: unknown; id?: unknown; result?: { ok?: unknown } };
  return (
    v.type === 'result' &&
    typeof v.id === 'number' &&
    typeof v.result === 'object' &&
    v.result !== null &&
    typeof v.result.ok === 'boolean'
  );
}

export function createCoreHost(workerPath: string): CoreHost {
  let child: UtilityProcess | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const listeners = new Set<(event: ProgressEvent) => void>();

  function failAll(message: string): void {
    for (const p of pending.values()) p.resolve({ ok: false, error: { message } });
    pending.clear();
  }

  function start(): UtilityProcess {
    if (child) return child;
    const proc = utilityProcess.fork(workerPath, [], { serviceName: 'Decomposer core', stdio: 'inherit' });
    proc.on('message', (m: unknown) => {
      if (isResultMessage(m)) {
        const p = pending.get(m.id);
        pending.delete(m.id);
        p?.resolve(m.result);
      } else if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'progress') {
        const event = (m as { event?: unknown }).event;
        if (isProgressEvent(event)) for (const l of [...listeners]) l(event);
      }
    });
    proc.on('exit', (code) => {
      if (child === proc) child = null;
      failAll(`The core process stopped (exit code ${code}). Try again; it restarts on the next call.`);
    });
    child = proc;
    return proc;
  }

  return {
    // Main checked the call where it came from the renderer; the core checks it again.
    call(method, args) {
      const id = nextId++;
      return new Promise<WireResult>((resolve) => {
        pending.set(id, { resolve });
        start().postMessage({ type: 'call', id, method, args });
      });
    },
    onProgress(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    stop() {
      const proc = child;
      child = null;
      failAll('The app is closing.');
      proc?.kill();
    },
  };
}
