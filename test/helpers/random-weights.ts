// Deterministic random numbers and model weights for the engine tests: non-zero biases and
// sane scales, so that every layer's activity is non-trivial.
import * as tf from '@tensorflow/tfjs';

/** Deterministic pseudo-random numbers in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** `count` images of `shape` ([H, W, P]) with seeded random pixels. */
export function randomImages(count: number, shape: number[], seed: number): Uint8Array {
  const r = rng(seed);
  return new Uint8Array(count * shape.reduce((a, b) => a * b, 1)).map(() => Math.floor(r() * 256));
}

/** The largest absolute difference of two equally long outputs. */
export function maxDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`outputs of ${a.length} and ${b.length} values`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Random weights with non-zero biases and sane scales, so activity is non-trivial. */
export function randomize(model: tf.LayersModel, seed: number): void {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  for (const w of model.weights) {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const name = w.originalName;
    const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
    const data = new Float32Array(n).map(() => {
      if (/gamma|moving_variance/.test(name)) return 0.5 + r();
      if (/kernel/.test(name)) return normal() * Math.sqrt(1 / fanIn);
      return normal() * 0.2; // biases, beta, moving_mean
    });
    w.write(tf.tensor(data, shape));
  }
}
