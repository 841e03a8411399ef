// Activations, fused into Conv2D/Dense or as their own layer (Activation, ReLU). Softmax is
// trained only as the model's output, where the loss folds it into the cross-entropy.
import type { Activation, PlanNode } from '../../../graph/plan.ts';
import type { GraphBuilder } from '../graph.ts';
import { DataType, int } from '../../../graph/onnx-proto.ts';
import type { LayerRule } from './types.ts';

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
      return g.op('Softmax', [z], [int('axis', 1)]);
  }
}

/** The gradient through the activation, from its output `y` (so Conv+Relu stays fusable). */
export function activationGradient(g: GraphBuilder, act: Activation, y: string, dy: string): string {
  switch (act) {
    case 'linear':
      return dy;
    case 'relu':
      // tfjs's step(0) is 0: the gradient passes where the output is > 0. A float mask and
      // Mul ran faster than Where with a broadcast scalar (onnxruntime profiler, per op).
      return g.op('Mul', [
        dy,
        g.op('Cast', [g.op('Greater', [y, g.scalar(0)])], [int('to', DataType.FLOAT)]),
      ]);
    case 'relu6': {
      // The gradient passes where the output is strictly inside (0, 6), as PyTorch's hardtanh.
      const inside = g.op('And', [g.op('Greater', [y, g.scalar(0)]), g.op('Less', [y, g.scalar(6)])]);
      return g.op('Mul', [dy, g.op('Cast', [inside], [int('to', DataType.FLOAT)])]);
    }
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
  classNames: ['Activation', 'ReLU', 'Softmax'],
  refuse: refuseActivation,
  forward({ g, node, inputs }) {
    return { output: activate(g, inputs[0]!, node.act) };
  },
  backward({ g, node }, fwd, dy) {
    return [activationGradient(g, node.act, fwd.output, dy)];
  },
};
