// Pixels to a model's inputs, the one rule every engine and graph applies: images are stored
// RGB (the app's image layout, [H, W, 3]); a 1-channel model is fed them too and sees their
// grey value (Rec. 601 luma rounded, as PIL's convert('L'): exact for grey images, whose three
// channels are equal), any other model is fed pixels of its own channels (RGB for 3); then
// x = (p - mean[c]) / std[c] with p the
// pixel as stored (0..255) or scaled to 0..1 (the model's Preprocess), computed as
// p * scale[c] + shift[c]. Here for the engines that take float inputs, and in the same terms
// inside the ONNX graphs that take pixels.
import type { Preprocess } from '../models/io.ts';

/** The weights of the grey value (ITU-R BT.601 luma), as PIL and data/images.ts use them. */
export const LUMA: readonly [number, number, number] = [0.299, 0.587, 0.114];

/** The channels images are stored with (RGB). */
export const PIXEL_CHANNELS = 3;

/** The channels of the pixels a model with `channels` input channels is fed. */
export const pixelChannels = (channels: number): number => (channels === 1 ? PIXEL_CHANNELS : channels);

const values = (x: number | number[], channels: number): number[] => {
  const a = typeof x === 'number' ? [x] : x;
  if (a.length !== 1 && a.length !== channels)
    throw new Error(`preprocessing gives ${a.length} values for a ${channels}-channel input`);
  return Array.from({ length: channels }, (_, c) => a[a.length === 1 ? 0 : c]!);
};

/**
 * The one rule of preprocessing, per channel: x = pixel * scale[c] + shift[c]. `uniform` when
 * every channel has the same (our own models): the graphs then keep one scalar.
 */
export function channelScales(
  pre: Preprocess,
  channels: number,
): { scale: number[]; shift: number[]; uniform: boolean } {
  const unit = pre.scale === '0..1' ? 255 : 1;
  const mean = values(pre.mean, channels);
  const std = values(pre.std, channels);
  return {
    scale: std.map((s) => 1 / (unit * s)),
    shift: mean.map((m, c) => -m / std[c]!),
    uniform: typeof pre.mean === 'number' && typeof pre.std === 'number',
  };
}

/** A preprocessing in words: "(p - 127.5) / 64", "(p / 255 - [0.485, 0.456, 0.406]) / [...]". */
export function describePreprocess(pre: Preprocess): string {
  const show = (x: number | number[]) =>
    typeof x === 'number' ? String(x) : x.length === 1 ? String(x[0]) : `[${x.join(', ')}]`;
  return `(${pre.scale === '0..1' ? 'p / 255' : 'p'} - ${show(pre.mean)}) / ${show(pre.std)}`;
}

/** Round half to even, as ONNX's Round (and so the graphs) rounds. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The grey value of the RGB pixel at `i` (its first byte's index). */
export const greyAt = (images: Uint8Array, i: number): number =>
  roundEven(images[i]! * LUMA[0] + images[i + 1]! * LUMA[1] + images[i + 2]! * LUMA[2]);

/**
 * Writes one pixel's model inputs: the pixel at `images[i]` as `channels` values at `x[o]`,
 * preprocessed (for loops that move pixels, such as augmentation).
 */
export function pixelWriter(
  pre: Preprocess,
  channels = PIXEL_CHANNELS,
): (images: Uint8Array, i: number, x: Float32Array, o: number) => void {
  const { scale, shift } = channelScales(pre, channels);
  if (channels === 1)
    return (images, i, x, o) => {
      x[o] = greyAt(images, i) * scale[0]! + shift[0]!;
    };
  return (images, i, x, o) => {
    for (let c = 0; c < channels; c++) x[o + c] = images[i + c]! * scale[c]! + shift[c]!;
  };
}

/**
 * `count` NHWC images of `size` x `size` (or [H, W]) as inputs of a `channels`-channel model
 * ([count, H, W, channels]), into `out` when it is long enough (a view of its start), else
 * into a new array.
 */
export function toInputs(
  images: Uint8Array,
  count: number,
  size: number | readonly [number, number],
  pre: Preprocess,
  out?: Float32Array,
  channels = PIXEL_CHANNELS,
): Float32Array {
  const px = count * (typeof size === 'number' ? size * size : size[0] * size[1]);
  const n = px * channels;
  const x = out && out.length >= n ? out.subarray(0, n) : new Float32Array(n);
  const { scale, shift } = channelScales(pre, channels);
  if (channels === 1) {
    for (let i = 0; i < px; i++) x[i] = greyAt(images, 3 * i) * scale[0]! + shift[0]!;
  } else if (channels === PIXEL_CHANNELS) {
    for (let i = 0; i < n; i++) x[i] = images[i]! * scale[i % 3]! + shift[i % 3]!;
  } else {
    for (let i = 0; i < n; i++) x[i] = images[i]! * scale[i % channels]! + shift[i % channels]!;
  }
  return x;
}
