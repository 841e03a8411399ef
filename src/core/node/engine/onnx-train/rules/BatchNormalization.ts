// BatchNormalization's backward half (the forward, batch statistics in training and the moving
// statistics in inference, is graph/layers/BatchNormalization.ts).
import { batchNormForward, perChannel } from '../../../graph/layers/BatchNormalization.ts';
import type { LayerRule } from './types.ts';

export const batchNormRule: LayerRule = {
  ...batchNormForward,
  backward(ctx, fwd, dyIn, needInput) {
    const { g, rows, unrows, tiled, sum, gamma, beta } = perChannel(ctx);
    const { xhat, rstd, inv } = fwd.saved!;
    const dy = rows(dyIn);
    const dbeta = sum(dy);
    const dgamma = sum(g.op('Mul', [dy, xhat!]));
    if (beta) ctx.setGradient('beta', dbeta);
    if (gamma) ctx.setGradient('gamma', dgamma);
    if (!needInput[0]) return [null];
    // dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), means over batch and space.
    const mdy = tiled(g.op('Mul', [dbeta, inv!]));
    const mdyx = tiled(g.op('Mul', [dgamma, inv!]));
    const centred = g.op('Sub', [g.op('Sub', [dy, mdy]), g.op('Mul', [xhat!, mdyx])]);
    const scale = tiled(gamma ? g.op('Mul', [gamma, rstd!]) : rstd!);
    return [unrows(g.op('Mul', [centred, scale]))];
  },
};
