// Add: the gradient goes unchanged to every input.
import type { LayerRule } from './types.ts';

export const addRule: LayerRule = {
  classNames: ['Add'],
  forward({ g, inputs }) {
    return { output: g.op('Sum', inputs) };
  },
  backward(_ctx, _fwd, dy, needInput) {
    return needInput.map((need) => (need ? dy : null));
  },
};
