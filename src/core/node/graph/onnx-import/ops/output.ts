// The classifier's end and the layers inference ignores: Softmax and LogSoftmax over the
// classes as the graph's output (a log-softmax gives way to the softmax, the probabilities
// every command reads), Dropout and Identity as what they are at inference.
import type { OpRule } from '../context.ts';

export const softmaxRule: OpRule = {
  ops: ['Softmax', 'LogSoftmax'],
  translate(ctx) {
    const x = ctx.flat(0);
    const axis = ctx.int('axis', ctx.opset >= 13 ? -1 : 1);
    if (axis !== 1 && axis !== -1) ctx.refuse(`axis ${axis}: only over the classes of [N, classes]`);
    if (!ctx.isOutput() || ctx.uses() !== 1)
      ctx.refuse(`a ${ctx.node.opType} inside the network: only the model's output may be one`);
    if (x.perm) ctx.refuse('a softmax over features in another order than the file numbers them');
    const node = ctx.emit({ className: 'Softmax', inputs: [x.node] });
    return [{ ...x, node }];
  },
};

export const passThroughRule: OpRule = {
  ops: ['Dropout', 'Identity'],
  translate(ctx) {
    const v = ctx.input(0);
    if (!v) return ctx.refuse('its input is missing');
    if (ctx.node.opType === 'Dropout') {
      const training = ctx.input(2);
      if (training?.kind === 'const' && Number(training.t.data[0]) !== 0)
        ctx.warn('exported in training mode: read as at inference (it passes its input through)');
    }
    return [v];
  },
};
