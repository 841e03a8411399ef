// Layers that pass their input through in the graphs: Dropout and SpatialDropout2D (inference;
// training, at rate 0: a positive rate needs random masks, which the graphs do not draw).
import type { LayerForward } from './types.ts';

export const identityForward: LayerForward = {
  classNames: ['Dropout', 'SpatialDropout2D'],
  forward({ inputs }) {
    return { output: inputs[0]! };
  },
};
