// Dropout's backward half (its forward passes the input through, graph/layers/Identity.ts).
import { identityForward } from '../../../graph/layers/Identity.ts';
import type { LayerRule } from './types.ts';

export const identityRule: LayerRule = {
  ...identityForward,
  refuse(node) {
    return (node.rate ?? 0) > 0
      ? `dropout rate ${node.rate} (random masks are not drawn in the graph)`
      : null;
  },
  backward(_ctx, _fwd, dy, needInput) {
    return [needInput[0] ? dy : null];
  },
};
