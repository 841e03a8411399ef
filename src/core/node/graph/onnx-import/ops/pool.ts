// MaxPool and AveragePool (2-D windows, explicit or automatic pads, ceil_mode as the far pad
// that gives the same output, count_include_pad) as pooling layers. A zero pad before an
// average pool folds into it as padding the average counts (what PyTorch's AvgPool2d writes).
import { ceilAxis } from '../../shapes.ts';
import type { ImportContext, OpRule } from '../context.ts';
import type { ImageValue, Pads, Value } from '../values.ts';
import { addPads, windowOf } from './window.ts';

function pool(ctx: ImportContext, max: boolean): Value[] {
  const v = ctx.input(0);
  let countPad = !max && ctx.int('count_include_pad', 0) === 1;
  let pending: Pads = [0, 0, 0, 0];
  let x: ImageValue;
  const own = ctx.ints('pads', [0, 0, 0, 0]);
  // A zero pad folds where the average counts it: pads of its own count too, or there are none.
  if (v?.kind === 'padded' && !max && (countPad || own.every((p) => p === 0))) {
    x = v.of;
    pending = v.pads;
    countPad = true;
  } else x = ctx.image(0);
  const kernel = ctx.ints('kernel_shape', []) as [number, number];
  if (kernel.length !== 2) ctx.refuse('a pooling window that is not 2-D');
  const [h, w, c] = x.shape;
  const hp = h + pending[0] + pending[2];
  const wp = w + pending[1] + pending[3];
  const win = windowOf(ctx, [hp, wp], kernel);
  const pads = addPads(pending, win.pads);
  if (ctx.opset >= 10 && ctx.int('ceil_mode', 0) === 1) {
    const y = ceilAxis(hp, kernel[0], win.strides[0], win.pads[0], win.pads[2]);
    const xw = ceilAxis(wp, kernel[1], win.strides[1], win.pads[1], win.pads[3]);
    const extra = [y.after - win.pads[2], xw.after - win.pads[3]];
    // An average that counts its padding would count the extension too (ONNX does not).
    if (countPad && extra.some((e) => e > 0))
      ctx.refuse(
        'ceil_mode with count_include_pad: the last windows would count more padding than ONNX does',
      );
    pads[2] += extra[0]!;
    pads[3] += extra[1]!;
    win.out = [y.out, xw.out];
  }
  const node = ctx.emit({
    className: max ? 'MaxPooling2D' : 'AveragePooling2D',
    inputs: [x.node],
    poolSize: kernel,
    strides: win.strides,
    pads,
    ...(countPad ? { countPad } : {}),
  });
  return [{ kind: 'image', layout: 'nchw', node, shape: [...win.out, c] }];
}

export const maxPoolRule: OpRule = { ops: ['MaxPool'], translate: (ctx) => pool(ctx, true) };
export const averagePoolRule: OpRule = { ops: ['AveragePool'], translate: (ctx) => pool(ctx, false) };

/** GlobalAveragePool / GlobalMaxPool: [N, C, 1, 1] in the file, [C] in the plan. */
export const globalPoolRule: OpRule = {
  ops: ['GlobalAveragePool', 'GlobalMaxPool'],
  translate(ctx) {
    const x = ctx.image(0);
    const max = ctx.node.opType === 'GlobalMaxPool';
    const node = ctx.emit({
      className: max ? 'GlobalMaxPooling2D' : 'GlobalAveragePooling2D',
      inputs: [x.node],
    });
    return [{ kind: 'pooled', node, channels: x.shape[2] }];
  },
};
