// Pixels to a model's inputs: x = (pixel - mean) / std for every channel (the model's
// Preprocess), computed as pixel * scale + shift, here for the engines that take float
// inputs and inside the ONNX graphs that take pixels.
import type { Preprocess } from '../models/io.ts';

/** The one rule of preprocessing: x = pixel * scale + shift. */
export function inputScale(pre: Preprocess): { scale: number; shift: number } {
  return { scale: 1 / pre.std, shift: -pre.mean / pre.std };
}

/**
 * `count` NHWC RGB images of `size` x `size` as model inputs, into `out` when it is long
 * enough (a view of its start), else into a new array.
 */
export function toInputs(
  images: Uint8Array,
  count: number,
  size: number,
  pre: Preprocess,
  out?: Float32Array,
): Float32Array {
  const n = count * size * size * 3;
  const x = out && out.length >= n ? out.subarray(0, n) : new Float32Array(n);
  const { scale, shift } = inputScale(pre);
  for (let i = 0; i < n; i++) x[i] = images[i]! * scale + shift;
  return x;
}
