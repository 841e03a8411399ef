// AveragePooling2D and MaxPooling2D over NHWC values, with explicit pads; an average counts its
// padding or not (countPad: ONNX's count_include_pad, PyTorch's default). ONNX pools NCHW
// only: values are transposed in and out of the graph's NHWC.
import { int, ints } from '../onnx-proto.ts';
import type { LayerForward } from './types.ts';

export const pooling2dForward: LayerForward = {
  classNames: ['AveragePooling2D', 'MaxPooling2D'],
  forward({ g, node, inputs }) {
    const [h, w, c] = node.inShape as [number, number, number];
    const [oh, ow] = node.shape as [number, number, number];
    const x = g.transpose(inputs[0]!, [null, h, w, c], [0, 3, 1, 2]);
    const out = (y: string) => g.transpose(y, [null, c, oh, ow], [0, 2, 3, 1]);
    const attrs = [
      ints('kernel_shape', node.poolSize!),
      ints('strides', node.strides!),
      ints('pads', node.pads!),
    ];
    if (node.pool === 'avg') {
      return {
        output: out(g.op('AveragePool', [x], [...attrs, int('count_include_pad', node.countPad ? 1 : 0)])),
      };
    }
    const [y, idx] = g.opN('MaxPool', [x], 2, attrs);
    return { output: out(y!), saved: { idx: idx!, x } };
  },
};
