// Flatten in tfjs's order: NCHW values go back to NHWC before flattening.
import { int, ints } from '../graph.ts';
import type { LayerRule } from './types.ts';

export const flattenRule: LayerRule = {
  classNames: ['Flatten'],
  forward({ g, node, inputs }) {
    if (node.inShape.length === 1) return { output: inputs[0]! };
    const nhwc = g.op('Transpose', [inputs[0]!], [ints('perm', [0, 2, 3, 1])]);
    return { output: g.op('Flatten', [nhwc], [int('axis', 1)]) };
  },
  backward({ g, node }, _fwd, dy, needInput) {
    if (!needInput[0]) return [null];
    if (node.inShape.length === 1) return [dy];
    const nhwc = g.op('Reshape', [dy, g.int64([-1, ...node.inShape])]);
    return [g.op('Transpose', [nhwc], [ints('perm', [0, 3, 1, 2])])];
  },
};
