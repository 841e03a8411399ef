// Flatten: NHWC values flatten in tfjs's order as they are.
import { int } from '../../../graph/onnx-proto.ts';
import type { LayerRule } from './types.ts';

export const flattenRule: LayerRule = {
  classNames: ['Flatten'],
  forward({ g, node, inputs }) {
    if (node.inShape.length === 1) return { output: inputs[0]! };
    return { output: g.op('Flatten', [inputs[0]!], [int('axis', 1)]) };
  },
  backward({ g, node }, _fwd, dy, needInput) {
    if (!needInput[0]) return [null];
    if (node.inShape.length === 1) return [dy];
    return [g.op('Reshape', [dy, g.int64([-1, ...node.inShape])])];
  },
};
