// BatchNormalization over the channel axis (NCHW axis 1, or the units of a flat tensor).
// Training: batch mean and (biased) variance, as tfjs-layers computes them, and the moving
// statistics updated as tfjs does (moving - (moving - batch) * (1 - momentum)), given back
// as new values. Inference: the moving statistics.
import { float, int, ints, type GraphBuilder } from '../graph.ts';
import type { LayerRule, RuleContext } from './types.ts';

function perChannel(ctx: RuleContext) {
  const { g, node } = ctx;
  const c = node.inShape[node.inShape.length - 1]!;
  const rank = node.inShape.length + 1;
  const bshape = rank === 4 ? [1, c, 1, 1] : [1, c];
  const axes = rank === 4 ? [0, 2, 3] : [0];
  const gamma = ctx.weight('gamma');
  const beta = ctx.weight('beta');
  const b = (v: string) => g.op('Reshape', [v, g.int64(bshape)]);
  return { c, axes, gamma, beta, b };
}

const mean = (g: GraphBuilder, x: string, axes: number[]) =>
  g.op('ReduceMean', [x], [ints('axes', axes), int('keepdims', 1)]);

export const batchNormRule: LayerRule = {
  classNames: ['BatchNormalization'],
  forward(ctx) {
    const { g, node, inputs, mode } = ctx;
    const { c, axes, gamma, beta, b } = perChannel(ctx);
    const x = inputs[0]!;
    const eps = node.epsilon!;
    if (mode === 'eval') {
      return {
        output: g.op(
          'BatchNormalization',
          [
            x,
            gamma ?? g.floats([c], new Float32Array(c).fill(1)),
            beta ?? g.floats([c], new Float32Array(c)),
            ctx.weight('moving_mean')!,
            ctx.weight('moving_variance')!,
          ],
          [float('epsilon', eps)],
        ),
      };
    }
    const mu = mean(g, x, axes);
    const xc = g.op('Sub', [x, mu]);
    const variance = mean(g, g.op('Mul', [xc, xc]), axes);
    const rstd = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, g.scalar(eps)])])]);
    const xhat = g.op('Mul', [xc, rstd]);
    let y = gamma ? g.op('Mul', [xhat, b(gamma)]) : xhat;
    if (beta) y = g.op('Add', [y, b(beta)]);
    const decay = g.scalar(1 - (node.momentum ?? 0.99));
    for (const [kind, batch] of [
      ['moving_mean', mu],
      ['moving_variance', variance],
    ] as const) {
      const moving = ctx.weight(kind)!;
      const flat = g.op('Reshape', [batch, g.int64([c])]);
      ctx.setUpdate(kind, g.op('Sub', [moving, g.op('Mul', [g.op('Sub', [moving, flat]), decay])]));
    }
    return { output: y, saved: { xhat, rstd } };
  },
  backward(ctx, fwd, dy, needInput) {
    const { g, inputs } = ctx;
    const { c, axes, gamma, beta, b } = perChannel(ctx);
    const { xhat, rstd } = fwd.saved!;
    const sum = (v: string) => g.op('ReduceSum', [v, g.int64(axes)], [int('keepdims', 0)]);
    const dbeta = sum(dy);
    const dgamma = sum(g.op('Mul', [dy, xhat!]));
    if (beta) ctx.setGradient('beta', dbeta);
    if (gamma) ctx.setGradient('gamma', dgamma);
    if (!needInput[0]) return [null];
    // dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), means over batch and space.
    const count = g.op('Div', [g.op('Cast', [g.op('Size', [inputs[0]!])], [int('to', 1)]), g.scalar(c)]);
    const inv = g.op('Reciprocal', [count]);
    const mdy = b(g.op('Mul', [dbeta, inv]));
    const mdyx = b(g.op('Mul', [dgamma, inv]));
    const centred = g.op('Sub', [g.op('Sub', [dy, mdy]), g.op('Mul', [xhat!, mdyx])]);
    const scale = gamma ? g.op('Mul', [b(gamma), rstd!]) : rstd!;
    return [g.op('Mul', [centred, scale])];
  },
};
