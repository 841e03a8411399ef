// A model's weights as one buffer and a manifest (tfjs' weights.bin layout, which plan model
// folders share): read as views by name, and written from named parts.
import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../../common/errors.ts';

export interface NamedWeight {
  shape: number[];
  data: Float32Array;
}

/** The weights by name, viewed in place in `data`; float32 only. */
export function weightViews(specs: readonly tf.io.WeightsManifestEntry[], data: ArrayBuffer) {
  const out = new Map<string, NamedWeight>();
  let off = 0;
  for (const s of specs) {
    if (s.dtype && s.dtype !== 'float32')
      throw new UserError(
        `Weight ${s.name} is ${s.dtype}.`,
        'Only float32 weights are supported.',
        'bad-model',
      );
    const n = s.shape.reduce((a, b) => a * b, 1);
    out.set(s.name, { shape: s.shape, data: new Float32Array(data, off, n) });
    off += n * 4;
  }
  return out;
}

/** Named weights in one buffer, in the order given, with the manifest that reads them back. */
export function packWeights(parts: readonly (NamedWeight & { name: string })[]): {
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
} {
  const data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p.data, off);
    off += p.data.length;
  }
  return {
    weightSpecs: parts.map((p) => ({ name: p.name, shape: p.shape, dtype: 'float32' })),
    weightData: data.buffer,
  };
}
