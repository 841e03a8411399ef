// What an ONNX tensor is while the importer reads the graph: a constant (initializers,
// Constant nodes, what the constant evaluator folds), a shape that holds the batch size (the
// Shape/Gather/Concat chains exporters write before a Reshape), or a value the plan computes:
// an image (the plan keeps it [H, W, C]; the file sees it NCHW, or NHWC after tf2onnx's
// transposes), an image still to be zero-padded (folded into the convolution or average
// pooling that reads it), a flat vector (with the order in which the file numbers its
// features, where it differs from the plan's H, W, C order), or a global pooling's [N, C, 1, 1].
import type { Tensor } from './model.ts';

/** A dimension of a shape value: a number, or the batch size ('N'). */
export type Dim = number | 'N';

export type Pads = [number, number, number, number];

export interface ImageValue {
  kind: 'image';
  /** The plan node computing it. */
  node: string;
  /** How the file sees it: [N, C, H, W] or [N, H, W, C]. */
  layout: 'nchw' | 'nhwc';
  /** [H, W, C]. */
  shape: [number, number, number];
}

export interface FlatValue {
  kind: 'flat';
  node: string;
  size: number;
  /**
   * perm[i]: the plan's index of the file's feature i, where they differ (features flattened
   * from NCHW are numbered C, H, W by the file and H, W, C by the plan); null: the same.
   */
  perm: Int32Array | null;
}

export type Value =
  | { kind: 'const'; t: Tensor }
  | { kind: 'shape'; dims: Dim[]; scalar?: boolean }
  | ImageValue
  | { kind: 'padded'; of: ImageValue; pads: Pads }
  | FlatValue
  | { kind: 'pooled'; node: string; channels: number }
  /** The output of a node that was refused: its consumers are not refused again. */
  | { kind: 'refused' };

export const constant = (t: Tensor): Value => ({ kind: 'const', t });

/** How a value is named in a refusal. */
export function describe(v: Value): string {
  switch (v.kind) {
    case 'const':
      return `a constant [${v.t.dims.join(', ')}]`;
    case 'shape':
      return 'a shape';
    case 'image':
    case 'padded':
      return 'an image';
    case 'flat':
      return `a vector of ${v.size}`;
    case 'pooled':
      return 'a pooled [N, C, 1, 1] value';
    case 'refused':
      return 'a refused value';
  }
}

/**
 * perm for features flattened in C, H, W order from an [H, W, C] image (null where both
 * orders agree: one channel, or one position).
 */
export function chwOrder([h, w, c]: readonly number[]): Int32Array | null {
  if (c === 1 || h! * w! === 1) return null;
  const perm = new Int32Array(h! * w! * c!);
  for (let ch = 0; ch < c!; ch++)
    for (let y = 0; y < h!; y++)
      for (let x = 0; x < w!; x++) perm[(ch * h! + y) * w! + x] = (y * w! + x) * c! + ch;
  return perm;
}
