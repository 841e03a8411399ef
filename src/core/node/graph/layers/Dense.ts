// Dense y = act(x W + b), kernel [in, out] as the plan stores it (Gemm's layout already).
import { activate } from './activation.ts';
import type { LayerForward } from './types.ts';

export const denseForward: LayerForward = {
  classNames: ['Dense'],
  forward({ g, node, inputs, weight }) {
    const bias = weight('bias');
    const w = weight('kernel')!;
    const z = g.op('Gemm', bias ? [inputs[0]!, w, bias] : [inputs[0]!, w]);
    return { output: activate(g, z, node.act) };
  },
};
