// onnxruntime-node, loaded once per thread for whatever runs on it (the inference sessions,
// the training graphs), and why it did not load, in one line a report can show.
import type * as Ort from 'onnxruntime-node';
import { firstLine } from '../../common/errors.ts';

export type OrtModule = typeof Ort;

let ortModule: Promise<OrtModule> | null = null;

let loaderOverride: (() => Promise<OrtModule>) | null = null;

/** Replaces how onnxruntime-node is loaded (tests simulate a machine where it cannot load). */
export function overrideOrtLoader(loader: (() => Promise<OrtModule>) | null): void {
  loaderOverride = loader;
}

/** Loads onnxruntime-node once (its native binding loads on import). */
export function loadOrt(): Promise<OrtModule> {
  if (loaderOverride) return loaderOverride();
  ortModule ??= import('onnxruntime-node').then((m) => {
    const mod = ((m as unknown as { default?: OrtModule }).default ?? m) as OrtModule;
    if (typeof mod.InferenceSession?.create !== 'function')
      throw new Error('onnxruntime-node has no InferenceSession');
    return mod;
  });
  ortModule.catch(() => (ortModule = null));
  return ortModule;
}

/** Why onnxruntime cannot run here, from what loading or using it threw. */
export function ortFailure(e: unknown, max = 240): string {
  const line = firstLine(e, max);
  return /Cannot find (module|package) '?onnxruntime-node/.test(line)
    ? 'onnxruntime-node is not installed'
    : line;
}
