// ZeroPadding2D: an image padded with zeros [top, left, bottom, right] (an imported model's
// Pad that no convolution or average pooling after it takes as its own padding).
import type { LayerForward } from './types.ts';

export const zeroPaddingForward: LayerForward = {
  classNames: ['ZeroPadding2D'],
  forward({ g, node, inputs }) {
    const [t, l, b, r] = node.pads!;
    return { output: g.op('Pad', [inputs[0]!, g.int64([0, t, l, 0, 0, b, r, 0])]) };
  },
};
