// Flatten's backward half: the gradient reshaped back to the image.
import { flattenForward } from '../../../graph/layers/Flatten.ts';
import type { LayerRule } from './types.ts';

export const flattenRule: LayerRule = {
  ...flattenForward,
  backward({ g, node }, _fwd, dy, needInput) {
    if (!needInput[0]) return [null];
    if (node.inShape.length === 1) return [dy];
    return [g.op('Reshape', [dy, g.int64([-1, ...node.inShape])])];
  },
};
