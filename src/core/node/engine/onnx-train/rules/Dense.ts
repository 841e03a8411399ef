// Dense y = act(x W + b), kernel [in, out] as tfjs stores it (Gemm's layout already).
import { int } from '../../../graph/onnx-proto.ts';
import { activate, activationGradient, refuseActivation } from './activation.ts';
import type { LayerRule } from './types.ts';

export const denseRule: LayerRule = {
  classNames: ['Dense'],
  refuse: refuseActivation,
  forward({ g, node, inputs, weight }) {
    const bias = weight('bias');
    const w = weight('kernel')!;
    const z = g.op('Gemm', bias ? [inputs[0]!, w, bias] : [inputs[0]!, w]);
    return { output: activate(g, z, node.act) };
  },
  backward({ g, node, inputs, weight, setGradient }, fwd, dy, needInput) {
    const dz = activationGradient(g, node.act, fwd.output, dy);
    setGradient('kernel', g.op('Gemm', [inputs[0]!, dz], [int('transA', 1)]));
    if (weight('bias')) setGradient('bias', g.op('ReduceSum', [dz, g.int64([0])], [int('keepdims', 0)]));
    return [needInput[0] ? g.op('Gemm', [dz, weight('kernel')!], [int('transB', 1)]) : null];
  },
};
