// Sizes the plan's readers check and compute: a model's input, and sliding-window layers
// (convolutions, pooling) along one axis; every window layer carries explicit pads, whichever
// reader computed them.
import { INPUT_CHANNELS, INPUT_SIDE, within } from '../../common/bounds.ts';
import { UserError } from '../../common/errors.ts';

/** Refuses an input [H, W, C] the engines do not take, before any buffer of its size is allocated. */
export function checkInputSize(shape: readonly number[]): void {
  if (!within(INPUT_SIDE, shape[0]) || !within(INPUT_SIDE, shape[1]) || !within(INPUT_CHANNELS, shape[2]))
    throw new UserError(
      `The model takes ${shape.join('x')} inputs; Decomposer runs models whose input sides are ${INPUT_SIDE.range} pixels, with ${INPUT_CHANNELS.range} channels.`,
      'Use a model trained on smaller images (or resize its input and retrain it).',
      'unsupported-model',
    );
}

/** Output size and explicit pads along one axis, exactly as tfjs computes them. */
export function padAxis(
  size: number,
  k: number,
  stride: number,
  padding: 'same' | 'valid',
): { out: number; before: number; after: number } {
  if (padding === 'valid') return { out: Math.ceil((size - k + 1) / stride), before: 0, after: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + k - size);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

/** Output size of a window of `k` at `stride` over `size` values padded `before` and `after`. */
export function windowOut(size: number, k: number, stride: number, before: number, after: number): number {
  return Math.floor((size + before + after - k) / stride) + 1;
}

/**
 * ONNX's ceil_mode along one axis (as PyTorch computes it): the output rounds up, but a last
 * window that would start in the far padding is dropped. Returned as the far pad that gives
 * the same output with floor rounding, so every consumer of the plan's pads sees it. (A
 * window that reaches past the padding then covers that extra pad: nothing for a max pool,
 * and not counted by an average that excludes its padding.)
 */
export function ceilAxis(
  size: number,
  k: number,
  stride: number,
  before: number,
  after: number,
): { out: number; after: number } {
  let out = Math.ceil((size + before + after - k) / stride) + 1;
  if ((out - 1) * stride >= size + before) out--;
  return { out, after: Math.max(after, (out - 1) * stride + k - size - before) };
}
