// Conv (2-D, group 1, no dilation, any kernel, stride and pads) as a Conv2D layer: the kernel
// [out, in, kh, kw] becomes the plan's [kh, kw, in, out]; a zero pad before it is added to its
// own pads.
import { needImage, type OpRule } from '../context.ts';
import type { Pads } from '../values.ts';
import { addPads, windowOf } from './window.ts';

/** [out, in, kh, kw] (ONNX, PyTorch) to [kh, kw, in, out] (the plan, tfjs). */
export function hwio(w: Float32Array, [co, ci, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < co!; o++)
    for (let i = 0; i < ci!; i++)
      for (let y = 0; y < kh!; y++)
        for (let x = 0; x < kw!; x++)
          out[((y * kw! + x) * ci! + i) * co! + o] = w[((o * ci! + i) * kh! + y) * kw! + x]!;
  return out;
}

export const convRule: OpRule = {
  ops: ['Conv'],
  translate(ctx) {
    const group = ctx.int('group', 1);
    if (group !== 1) ctx.refuse(`group ${group}: grouped and depthwise convolutions are not supported`);
    const v = ctx.input(0);
    const pending: Pads = v?.kind === 'padded' ? v.pads : [0, 0, 0, 0];
    const x = v?.kind === 'padded' ? v.of : needImage(ctx, v);
    const w = ctx.constant(1, 'weight');
    if (w.dims.length !== 4) ctx.refuse(`a weight of shape [${w.dims.join(', ')}]: only 2-D convolutions`);
    const [co, ci, kh, kw] = w.dims as [number, number, number, number];
    const [h, wd, c] = x.shape;
    if (ci !== c) ctx.refuse(`its weight takes ${ci} channels, its input has ${c}`);
    const kernel = ctx.ints('kernel_shape', [kh, kw]);
    if (kernel[0] !== kh || kernel[1] !== kw)
      ctx.refuse(`kernel_shape [${kernel.join(', ')}] differs from its weight`);
    const win = windowOf(ctx, [h + pending[0] + pending[2], wd + pending[1] + pending[3]], [kh, kw]);
    const bias = ctx.input(2) ? ctx.constant(2, 'bias') : null;
    if (bias && bias.data.length !== co)
      ctx.refuse(`a bias of ${bias.data.length} values for ${co} channels`);
    const node = ctx.emit(
      { className: 'Conv2D', inputs: [x.node], strides: win.strides, pads: addPads(pending, win.pads) },
      {
        kernel: { shape: [kh, kw, ci, co], data: hwio(Float32Array.from(w.data), w.dims) },
        ...(bias ? { bias: { shape: [co], data: Float32Array.from(bias.data) } } : {}),
      },
    );
    return [{ kind: 'image', layout: 'nchw', node, shape: [...win.out, co] }];
  },
};
