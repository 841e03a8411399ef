// Entry of the Electron utility process that hosts the core API (see core-host.ts).
// It is plain Node plus `process.parentPort`; it never touches windows or IPC with renderers.
import type { ParentPort } from 'electron';
import { isApiMethod, toWireError } from '../core/common/api.ts';
import type { ApiMethod, WireResult } from '../core/common/api.ts';
import { createCoreApi } from '../core/node/api.ts';
import { parseBackendName } from '../core/node/graph/backend.ts';
import { parseInferenceEngine } from '../core/node/inference/index.ts';

const port: ParentPort | undefined = (process as unknown as { parentPort?: ParentPort }).parentPort;
if (!port) {
  console.error('src/main/worker runs only as an Electron utility process.');
  process.exit(2);
}

let backend: ReturnType<typeof parseBackendName> = null;
try {
  backend = parseBackendName(process.env['DECOMPOSER_BACKEND']);
} catch (e) {
  console.error(toWireError(e).message);
}
let inference: ReturnType<typeof parseInferenceEngine> = null;
try {
  inference = parseInferenceEngine(process.env['DECOMPOSER_INFERENCE']);
} catch (e) {
  console.error(toWireError(e).message);
}
const api = createCoreApi({ backend, inference, home: process.env['DECOMPOSER_HOME'] });
api.onProgress((event) => port.postMessage({ type: 'progress', event }));

port.on('message', (e: { data: unknown }) => {
  const m = e.data as { type?: unknown; id?: unknown; method?: unknown; args?: unknown } | null;
  if (typeof m !== 'object' || m === null || m.type !== 'call' || typeof m.id !== 'number') return;
  const id = m.id;
  const reply = (result: WireResult): void => port.postMessage({ type: 'result', id, result });
  // Only main sends here, having checked the call; the name is checked before it is looked up,
  // the arguments by the core's own check (its answer comes back as any refusal does).
  if (!isApiMethod(m.method) || !Array.isArray(m.args)) {
    reply({ ok: false, error: { message: 'not a method of the API', code: 'bad-request' } });
    return;
  }
  const fn = api[m.method as ApiMethod] as (...a: unknown[]) => Promise<unknown>;
  fn.apply(api, m.args as unknown[]).then(
    (value) => reply({ ok: true, value }),
    (err: unknown) => reply({ ok: false, error: toWireError(err) }),
  );
});
