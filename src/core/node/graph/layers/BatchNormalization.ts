// BatchNormalization over the channel axis: the last one, for NHWC images and flat tensors.
// Training: batch mean and (biased) variance, as tfjs-layers computes them, and the moving
// statistics updated as tfjs does (moving - (moving - batch) * (1 - momentum)), given back
// as new values. Inference: the moving statistics.
//
// Channels last, as rows of the image's width (channels.ts).
import type { GraphBuilder } from '../builder.ts';
import { int } from '../onnx-proto.ts';
import { channelRows } from './channels.ts';
import type { ForwardContext, LayerForward } from './types.ts';

export function perChannel(ctx: ForwardContext) {
  const { g, node } = ctx;
  const c = node.inShape[node.inShape.length - 1]!;
  return { g, c, ...channelRows(g, node.inShape), gamma: ctx.weight('gamma'), beta: ctx.weight('beta') };
}

/** 1 / (values per channel in the batch), computed when the graph runs (the batch varies). */
function inverseCount(g: GraphBuilder, x: string, c: number): string {
  const count = g.op('Div', [g.op('Cast', [g.op('Size', [x])], [int('to', 1)]), g.scalar(c)]);
  return g.op('Reciprocal', [count]);
}

export const batchNormForward: LayerForward = {
  classNames: ['BatchNormalization'],
  forward(ctx) {
    const { node, inputs, mode } = ctx;
    const { g, c, rows, unrows, tiled, sum, gamma, beta } = perChannel(ctx);
    const x = rows(inputs[0]!);
    const eps = g.scalar(node.epsilon!);
    const rsqrt = (v: string) => g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [v, eps])])]);
    if (mode === 'eval') {
      // x * scale + shift, from the moving statistics.
      const rstd = rsqrt(ctx.weight('moving_variance')!);
      const scale = gamma ? g.op('Mul', [gamma, rstd]) : rstd;
      let shift = g.op('Neg', [g.op('Mul', [ctx.weight('moving_mean')!, scale])]);
      if (beta) shift = g.op('Add', [shift, beta]);
      return { output: unrows(g.op('Add', [g.op('Mul', [x, tiled(scale)]), tiled(shift)])) };
    }
    const inv = inverseCount(g, x, c);
    const mu = g.op('Mul', [sum(x), inv]);
    const xc = g.op('Sub', [x, tiled(mu)]);
    const variance = g.op('Mul', [sum(g.op('Mul', [xc, xc])), inv]);
    const rstd = rsqrt(variance);
    const xhat = g.op('Mul', [xc, tiled(rstd)]);
    let y = gamma ? g.op('Mul', [xhat, tiled(gamma)]) : xhat;
    if (beta) y = g.op('Add', [y, tiled(beta)]);
    const decay = g.scalar(1 - (node.momentum ?? 0.99));
    for (const [kind, batch] of [
      ['moving_mean', mu],
      ['moving_variance', variance],
    ] as const) {
      const moving = ctx.weight(kind)!;
      ctx.setUpdate(kind, g.op('Sub', [moving, g.op('Mul', [g.op('Sub', [moving, batch]), decay])]));
    }
    return { output: unrows(y), saved: { xhat, rstd, inv } };
  },
};
