// GlobalAveragePooling2D and GlobalMaxPooling2D over NHWC values.
import { int, ints } from '../onnx-proto.ts';
import type { LayerForward } from './types.ts';

export const globalPoolingForward: LayerForward = {
  classNames: ['GlobalAveragePooling2D', 'GlobalMaxPooling2D'],
  forward({ g, node, inputs }) {
    if (node.pool === 'max') {
      const m = g.op('ReduceMax', [inputs[0]!], [ints('axes', [1, 2]), int('keepdims', 1)]);
      return { output: g.op('Squeeze', [m, g.int64([1, 2])]), saved: { max: m } };
    }
    return { output: g.op('ReduceMean', [inputs[0]!], [ints('axes', [1, 2]), int('keepdims', 0)]) };
  },
};
