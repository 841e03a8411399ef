// Global pooling's backward half (the forward is graph/layers/GlobalPooling2D.ts).
import { int } from '../../../graph/onnx-proto.ts';
import { globalPoolingForward } from '../../../graph/layers/GlobalPooling2D.ts';
import type { LayerRule } from './types.ts';

export const globalPoolingRule: LayerRule = {
  ...globalPoolingForward,
  backward({ g, node, inputs }, fwd, dy, needInput) {
    if (!needInput[0]) return [null];
    const [h, w] = node.inShape as [number, number, number];
    const d4 = g.op('Unsqueeze', [dy, g.int64([1, 2])]);
    if (node.pool === 'max') {
      // Like tfjs: every position equal to the maximum receives the gradient.
      const hit = g.op('Cast', [g.op('Equal', [inputs[0]!, fwd.saved!.max!])], [int('to', 1)]);
      return [g.op('Mul', [hit, d4])];
    }
    const scaled = g.op('Mul', [d4, g.scalar(1 / (h * w))]);
    return [g.op('Expand', [scaled, g.op('Shape', [inputs[0]!])])];
  },
};
