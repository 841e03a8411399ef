// Layers that pass their input through when training here: Dropout and SpatialDropout2D at
// rate 0 (a positive rate needs random masks, which the training graph does not draw).
import type { LayerRule } from './types.ts';

export const identityRule: LayerRule = {
  classNames: ['Dropout', 'SpatialDropout2D'],
  refuse(node) {
    return (node.rate ?? 0) > 0
      ? `dropout rate ${node.rate} (random masks are not drawn in the graph)`
      : null;
  },
  forward({ inputs }) {
    return { output: inputs[0]! };
  },
  backward(_ctx, _fwd, dy, needInput) {
    return [needInput[0] ? dy : null];
  },
};
