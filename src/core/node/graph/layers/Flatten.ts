// Flatten: NHWC values flatten in the plan's order (H, W, C) as they are.
import { int } from '../onnx-proto.ts';
import type { LayerForward } from './types.ts';

export const flattenForward: LayerForward = {
  classNames: ['Flatten'],
  forward({ g, node, inputs }) {
    if (node.inShape.length === 1) return { output: inputs[0]! };
    return { output: g.op('Flatten', [inputs[0]!], [int('axis', 1)]) };
  },
};
