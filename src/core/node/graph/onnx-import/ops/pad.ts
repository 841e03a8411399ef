// Pad with zeros (constant mode, value 0) over an image's spatial axes: pads from attributes
// before opset 11, from a constant input (PyTorch's chain of constant nodes, folded) from 11.
// The pad stays pending: a convolution or an average pool after it folds it into its own
// pads; anything else gets a padding layer.
import type { OpRule } from '../context.ts';
import { needImage, type ImportContext } from '../context.ts';
import type { Pads, Value } from '../values.ts';

/** The pad: zeros on the spatial axes, pending for the layer that reads it. */
function pad(ctx: ImportContext, pads: number[], value: number): Value[] {
  if (ctx.str('mode', 'constant') !== 'constant')
    ctx.refuse(`mode ${ctx.str('mode', '')}: only zero padding`);
  if (value !== 0) ctx.refuse(`padding with ${value}: only zeros`);
  const v = ctx.input(0);
  const x = v?.kind === 'padded' ? v.of : needImage(ctx, v);
  // ONNX's order: every axis's start, then every axis's end ([N, C, H, W]).
  if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0))
    ctx.refuse(`pads [${pads.join(', ')}]: only non-negative padding of the spatial axes`);
  const own: Pads = [pads[2]!, pads[3]!, pads[6]!, pads[7]!];
  const before: Pads = v?.kind === 'padded' ? v.pads : [0, 0, 0, 0];
  const total: Pads = [own[0] + before[0], own[1] + before[1], own[2] + before[2], own[3] + before[3]];
  if (total.every((p) => p === 0)) return [x];
  return [{ kind: 'padded', of: x, pads: total }];
}

/** Pad before opset 11: pads and value are attributes. */
export const padAttributesRule: OpRule = {
  ops: ['Pad'],
  until: 10,
  translate: (ctx) => pad(ctx, ctx.ints('pads', []), ctx.float('value', 0)),
};

/** Pad from opset 11: pads (and the value) are inputs (PyTorch's chain of constants, folded). */
export const padInputsRule: OpRule = {
  ops: ['Pad'],
  since: 11,
  translate(ctx) {
    if (ctx.input(3)) ctx.refuse('padding given axes');
    const value = ctx.input(2) ? Number(ctx.constant(2, 'constant value').data[0]) : 0;
    return pad(ctx, Array.from(ctx.constant(1, 'pads').data, Number), value);
  },
};
