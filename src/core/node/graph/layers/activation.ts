// Activations, fused into Conv2D/Dense or as their own layer (Activation, ReLU, Softmax).
import type { Activation } from '../plan.ts';
import type { GraphBuilder } from '../builder.ts';
import { int } from '../onnx-proto.ts';
import type { LayerForward } from './types.ts';

export function activate(g: GraphBuilder, z: string, act: Activation): string {
  switch (act) {
    case 'linear':
      return z;
    case 'relu':
      return g.op('Relu', [z]);
    case 'relu6':
      return g.op('Clip', [z, g.scalar(0), g.scalar(6)]);
    case 'sigmoid':
      return g.op('Sigmoid', [z]);
    case 'tanh':
      return g.op('Tanh', [z]);
    case 'softmax':
      // The last axis: the classes of [N, units] (an image's channels, NHWC).
      return g.op('Softmax', [z], [int('axis', -1)]);
  }
}

export const activationForward: LayerForward = {
  classNames: ['Activation', 'ReLU', 'Softmax'],
  forward({ g, node, inputs }) {
    return { output: activate(g, inputs[0]!, node.act) };
  },
};
