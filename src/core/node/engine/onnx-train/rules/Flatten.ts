// Flatten in tfjs's order: NCHW values go back to NHWC before flattening.
import { int } from '../graph.ts';
import type { LayerRule } from './types.ts';

export const flattenRule: LayerRule = {
  classNames: ['Flatten'],
  forward({ g, node, inputs }) {
    if (node.inShape.length === 1) return { output: inputs[0]! };
    const [h, w, c] = node.inShape as [number, number, number];
    const nhwc = g.transpose(inputs[0]!, [null, c, h, w], [0, 2, 3, 1]);
    return { output: g.op('Flatten', [nhwc], [int('axis', 1)]) };
  },
  backward({ g, node }, _fwd, dy, needInput) {
    if (!needInput[0]) return [null];
    if (node.inShape.length === 1) return [dy];
    const nhwc = g.op('Reshape', [dy, g.int64([-1, ...node.inShape])]);
    const [h, w, c] = node.inShape as [number, number, number];
    return [g.transpose(nhwc, [null, h, w, c], [0, 3, 1, 2])];
  },
};
