// Dense's backward half (the forward is graph/layers/Dense.ts).
import { int } from '../../../graph/onnx-proto.ts';
import { denseForward } from '../../../graph/layers/Dense.ts';
import { activationGradient, refuseActivation } from './activation.ts';
import type { LayerRule } from './types.ts';

export const denseRule: LayerRule = {
  ...denseForward,
  refuse: refuseActivation,
  backward({ g, node, inputs, weight, setGradient }, fwd, dy, needInput) {
    const dz = activationGradient(g, node.act, fwd.output, dy);
    setGradient('kernel', g.op('Gemm', [inputs[0]!, dz], [int('transA', 1)]));
    if (weight('bias')) setGradient('bias', g.op('ReduceSum', [dz, g.int64([0])], [int('keepdims', 0)]));
    return [needInput[0] ? g.op('Gemm', [dz, weight('kernel')!], [int('transB', 1)]) : null];
  },
};
