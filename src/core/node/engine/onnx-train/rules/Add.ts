// Add's backward half: the gradient goes unchanged to every input.
import { addForward } from '../../../graph/layers/Add.ts';
import type { LayerRule } from './types.ts';

export const addRule: LayerRule = {
  ...addForward,
  backward(_ctx, _fwd, dy, needInput) {
    return needInput.map((need) => (need ? dy : null));
  },
};
