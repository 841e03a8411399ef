// The pads of a sliding-window node (Conv, MaxPool, AveragePool) as the plan keeps them:
// explicit [top, left, bottom, right], from the node's `pads` or its `auto_pad`, and its
// output size. Shared by the convolution and pooling rules.
import { windowOut } from '../../shapes.ts';
import type { ImportContext } from '../context.ts';
import type { Pads } from '../values.ts';

export interface Window {
  kernel: [number, number];
  strides: [number, number];
  pads: Pads;
  out: [number, number];
}

/** A node's window over an [H, W] input, refusing dilations and empty outputs. */
export function windowOf(ctx: ImportContext, [h, w]: readonly number[], kernel: [number, number]): Window {
  const strides = ctx.ints('strides', [1, 1]) as [number, number];
  const dil = ctx.ints('dilations', [1, 1]);
  if (dil.some((d) => d !== 1)) ctx.refuse(`dilation ${dil.join('x')}: dilated windows are not supported`);
  if (strides.length !== 2 || kernel.length !== 2) ctx.refuse('a window that is not 2-D');
  const auto = ctx.str('auto_pad', 'NOTSET');
  let pads: Pads;
  if (auto === 'NOTSET') {
    const p = ctx.ints('pads', [0, 0, 0, 0]);
    if (p.length !== 4 || p.some((x) => x < 0)) ctx.refuse(`pads [${p.join(', ')}]`);
    pads = p as Pads;
  } else if (auto === 'VALID') pads = [0, 0, 0, 0];
  else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    // As ONNX: the output is ceil(size / stride); an odd total pad puts the extra at the end (UPPER).
    const axis = (size: number, k: number, s: number) => {
      const total = Math.max(0, (Math.ceil(size / s) - 1) * s + k - size);
      const small = Math.floor(total / 2);
      return auto === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
    };
    const [t, b] = axis(h!, kernel[0], strides[0]);
    const [l, r] = axis(w!, kernel[1], strides[1]);
    pads = [t!, l!, b!, r!];
  } else return ctx.refuse(`auto_pad ${auto}`);
  const out: [number, number] = [
    windowOut(h!, kernel[0], strides[0], pads[0], pads[2]),
    windowOut(w!, kernel[1], strides[1], pads[1], pads[3]),
  ];
  if (out[0] < 1 || out[1] < 1) ctx.refuse(`a ${kernel.join('x')} window over ${h}x${w} gives no output`);
  return { kernel, strides, pads, out };
}

export const addPads = (a: Pads, b: Pads): Pads => [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];
