// BatchNormalization in inference form (its moving statistics; training_mode 0) over an
// image's channels, or a vector's features (BatchNorm1d), as a plan layer.
import type { OpRule } from '../context.ts';
import { sameShape } from './activation.ts';

export const batchNormRule: OpRule = {
  ops: ['BatchNormalization'],
  translate(ctx) {
    if (ctx.int('training_mode', 0) !== 0) ctx.refuse('in training mode (export the model in eval mode)');
    if (ctx.opset < 9 && ctx.int('spatial', 1) !== 1) ctx.refuse('spatial 0 (per-position statistics)');
    const v = ctx.input(0);
    const channels =
      v?.kind === 'image' || v?.kind === 'padded'
        ? (v.kind === 'image' ? v.shape : v.of.shape)[2]
        : v?.kind === 'flat'
          ? v.size
          : v?.kind === 'pooled'
            ? v.channels
            : 0;
    const perm = v?.kind === 'flat' ? v.perm : null;
    const param = (i: number, what: string) => {
      const t = ctx.constant(i, what);
      if (t.data.length !== channels)
        ctx.refuse(`its ${what} has ${t.data.length} values for ${channels} channels`);
      const out = new Float32Array(channels);
      for (let k = 0; k < channels; k++) out[perm ? perm[k]! : k] = Number(t.data[k]);
      return { shape: [channels], data: out };
    };
    const weights = {
      gamma: param(1, 'scale'),
      beta: param(2, 'bias'),
      moving_mean: param(3, 'mean'),
      moving_variance: param(4, 'variance'),
    };
    const epsilon = ctx.float('epsilon', 1e-5);
    const momentum = ctx.float('momentum', 0.9);
    return [
      sameShape(ctx, (input) =>
        ctx.emit({ className: 'BatchNormalization', inputs: [input], epsilon, momentum }, weights),
      ),
    ];
  },
};
