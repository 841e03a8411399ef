// Chooses the TensorFlow.js backend at run time: tensorflow (native, optional) when it
// loaded, else wasm, else the pure-JS cpu backend; it builds models, and runs them where
// onnxruntime cannot (the tfjs inference and training engines; the tfjs training engine adds
// its own wasm gradient kernels). A user can force one with a setting or DECOMPOSER_BACKEND.
// The report says why faster ones are not active, so the app and CLI can show it. Training
// prefers onnxruntime over all of these (engine/training.ts); forcing onnxruntime leaves the
// tfjs backend to this automatic choice.
import * as tf from '@tensorflow/tfjs';
import type { BackendName, BackendReport, BackendStatus, TfjsBackendName } from '../../common/api.ts';
import { firstLine, UserError } from '../../common/errors.ts';

export const TFJS_BACKENDS: readonly TfjsBackendName[] = ['tensorflow', 'wasm', 'cpu'];
/** Every training engine, fastest first. */
export const BACKEND_PREFERENCE: readonly BackendName[] = ['onnxruntime', ...TFJS_BACKENDS];

let current: BackendReport | null = null;
// One start-up at a time: concurrent tf.setBackend calls race and can settle on the wrong one.
let starting: Promise<BackendReport> | null = null;

async function tryLoad(name: TfjsBackendName): Promise<BackendStatus> {
  try {
    if (name === 'tensorflow') {
      // Optional dependency: its install downloads libtensorflow, which may have failed.
      await import('@tensorflow/tfjs-node' as string);
      if (!tf.findBackend('tensorflow') && !tf.engine().registryFactory['tensorflow']) {
        return { name, ok: false, reason: '@tensorflow/tfjs-node loaded but registered no backend' };
      }
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    }
    const ok = await tf.setBackend(name);
    if (!ok) return { name, ok: false, reason: `tf.setBackend('${name}') failed to initialise` };
    await tf.ready();
    // The cpu backend greets Node users with a banner about tfjs-node; our report already
    // says why the faster backends are not active.
    if (name === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    return { name, ok: true };
  } catch (e) {
    const msg = firstLine(e);
    const reason =
      name === 'tensorflow' && /Cannot find (module|package)/.test(msg)
        ? '@tensorflow/tfjs-node is not installed (its install downloads libtensorflow; on this machine that failed or was skipped)'
        : msg;
    return { name, ok: false, reason };
  }
}

export function parseBackendName(value: string | undefined | null): BackendName | null {
  if (value === undefined || value === null || value === '' || value === 'auto') return null;
  if ((BACKEND_PREFERENCE as readonly string[]).includes(value)) return value as BackendName;
  throw new UserError(
    `Unknown backend "${value}".`,
    `Use one of: auto, ${BACKEND_PREFERENCE.join(', ')}.`,
    'bad-backend',
  );
}

/**
 * Activates the fastest backend that loads (or the forced one) and returns the report.
 * Idempotent for the same request.
 */
export async function initBackend(asked: BackendName | null = null): Promise<BackendReport> {
  const force = asked === 'onnxruntime' ? null : asked;
  while (starting) await starting.catch(() => undefined);
  if (current && current.forced === force) return current;
  starting = startBackend(force);
  try {
    return await starting;
  } finally {
    starting = null;
  }
}

async function startBackend(force: TfjsBackendName | null): Promise<BackendReport> {
  const candidates: BackendStatus[] = [];
  let active: TfjsBackendName | null = null;
  const order = force ? [force] : TFJS_BACKENDS;
  for (const name of order) {
    const status = await tryLoad(name);
    candidates.push(status);
    if (status.ok) {
      active = name;
      break;
    }
  }
  if (!active) {
    const why = candidates.map((c) => `${c.name}: ${c.reason}`).join('; ');
    throw new UserError(
      `The ${force ?? 'tensor'} backend could not start (${why}).`,
      'Choose another backend with --backend auto.',
      'no-backend',
    );
  }
  // Name the backends we did not try because a faster one loaded first.
  for (const name of TFJS_BACKENDS) {
    if (!candidates.some((c) => c.name === name)) {
      candidates.push({
        name,
        ok: false,
        reason: force ? `not tried: ${force} was forced` : `not needed: ${active} is faster`,
      });
    }
  }
  candidates.sort((a, b) => BACKEND_PREFERENCE.indexOf(a.name) - BACKEND_PREFERENCE.indexOf(b.name));
  current = { active, forced: force, candidates };
  return current;
}

export function backendReport(): BackendReport | null {
  return current;
}

/** One line for people: "wasm (tensorflow: not installed ...)". */
export function describeBackend(r: BackendReport): string {
  const others = r.candidates.filter(
    (c) => c.name !== r.active && !c.ok && !c.reason?.startsWith('not needed'),
  );
  const why = others.map((c) => `${c.name}: ${c.reason}`).join('; ');
  const d = r.device;
  const device = d
    ? ` on ${d.active === 'gpu' ? `GPU (${d.provider})` : 'CPU'}${d.reason ? ` (${d.reason})` : ''}`
    : '';
  return `${r.active}${device}${r.forced ? ' (forced)' : ''}${why ? ` — ${why}` : ''}`;
}
