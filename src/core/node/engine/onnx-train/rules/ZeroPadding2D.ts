// ZeroPadding2D's backward half: the gradient of the unpadded positions, sliced out.
import { zeroPaddingForward } from '../../../graph/layers/ZeroPadding2D.ts';
import type { LayerRule } from './types.ts';

export const zeroPaddingRule: LayerRule = {
  ...zeroPaddingForward,
  backward({ g, node }, _fwd, dy, needInput) {
    if (!needInput[0]) return [null];
    const [h, w] = node.inShape as [number, number, number];
    const [t, l] = node.pads!;
    return [g.op('Slice', [dy, g.int64([t, l]), g.int64([t + h, l + w]), g.int64([1, 2])])];
  },
};
