// Per-channel work on channels-last values (NHWC images, [N, units] flat tensors), shared by
// the rules that reduce or scale by channel (batch norm, a convolution's bias gradient).
//
// Images are handled as rows of [w * c] values with every per-channel vector tiled w times:
// onnxruntime broadcasts a vector of c along the last axis slowly (one short span at a time,
// measured well behind a same-shape op), and a row as long as the image's width runs at full
// speed. Sums reduce the rows first and then the w positions: two stages, more accurate than
// one pass over every position (which drifted enough to flip ReLU masks), and unlike that
// pass they do not slow down with a second intra-op thread (measured).
import type { GraphBuilder } from '../builder.ts';
import { int } from '../onnx-proto.ts';

export interface ChannelRows {
  /** The value as rows of [w * c] (flat tensors: unchanged). */
  rows(v: string): string;
  /** Rows back to the value's shape. */
  unrows(v: string): string;
  /** A per-channel vector [c] tiled to one row [w * c]. */
  tiled(v: string): string;
  /** Rows summed per channel: [c]. */
  sum(rows: string): string;
}

/** Helpers for a value of shape [N, ...shape] with channels last (shape without the batch). */
export function channelRows(g: GraphBuilder, shape: readonly number[]): ChannelRows {
  const c = shape[shape.length - 1]!;
  // Positions per row: the width for images, 1 for flat tensors.
  const w = shape.length === 3 ? shape[1]! : 1;
  return {
    rows: (v) => (w === 1 ? v : g.op('Reshape', [v, g.int64([-1, w * c])])),
    unrows: (v) => (w === 1 ? v : g.op('Reshape', [v, g.int64([-1, ...shape])])),
    tiled: (v) => (w === 1 ? v : g.op('Tile', [v, g.int64([w])])),
    sum(v) {
      const r = g.op('ReduceSum', [v, g.int64([0])], [int('keepdims', 0)]);
      return w === 1
        ? r
        : g.op('ReduceSum', [g.op('Reshape', [r, g.int64([w, c])]), g.int64([0])], [int('keepdims', 0)]);
    },
  };
}
