// Add: the sum of its inputs (a residual connection).
import type { LayerForward } from './types.ts';

export const addForward: LayerForward = {
  classNames: ['Add'],
  forward({ g, inputs }) {
    return { output: g.op('Sum', inputs) };
  },
};
