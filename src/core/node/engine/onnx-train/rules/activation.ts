// Activations' backward half (the forward is graph/layers/activation.ts). Softmax is trained
// only as the model's output, where the loss folds it into the cross-entropy.
import type { Activation, PlanNode } from '../../../graph/plan.ts';
import type { GraphBuilder } from '../../../graph/builder.ts';
import { activationForward } from '../../../graph/layers/activation.ts';
import { DataType, int } from '../../../graph/onnx-proto.ts';
import type { LayerRule } from './types.ts';

/** The gradient through the activation, from its output `y` (so Conv+Relu stays fusable). */
export function activationGradient(g: GraphBuilder, act: Activation, y: string, dy: string): string {
  const mask = (on: string) => g.op('Mul', [dy, g.op('Cast', [on], [int('to', DataType.FLOAT)])]);
  switch (act) {
    case 'linear':
      return dy;
    case 'relu':
      // tfjs's step(0) is 0: the gradient passes where the output is > 0. A float mask and
      // Mul ran faster than Where with a broadcast scalar (onnxruntime profiler, per op).
      return mask(g.op('Greater', [y, g.scalar(0)]));
    case 'relu6':
      // Where the output is strictly inside (0, 6), as PyTorch's hardtanh passes it.
      return mask(g.op('And', [g.op('Greater', [y, g.scalar(0)]), g.op('Less', [y, g.scalar(6)])]));
    case 'sigmoid':
      return g.op('Mul', [dy, g.op('Mul', [y, g.op('Sub', [g.scalar(1), y])])]);
    case 'tanh':
      return g.op('Mul', [dy, g.op('Sub', [g.scalar(1), g.op('Mul', [y, y])])]);
    case 'softmax':
      throw new Error('softmax is trained only as the output (with the loss)');
  }
}

export function refuseActivation(node: PlanNode): string | null {
  return node.act === 'softmax' ? 'softmax is trained only as the model output' : null;
}

export const activationRule: LayerRule = {
  ...activationForward,
  refuse: refuseActivation,
  backward({ g, node }, fwd, dy) {
    return [activationGradient(g, node.act, fwd.output, dy)];
  },
};
