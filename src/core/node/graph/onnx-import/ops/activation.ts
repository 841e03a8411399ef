// Relu and Clip (ReLU6, or a Clip at [0, ∞) that is a ReLU) on any computed value: a plan
// activation layer, the value keeping its kind (an image stays an image, a vector its order).
import type { ImportContext, OpRule } from '../context.ts';
import { describe, type Value } from '../values.ts';

/** The value `ctx`'s input 0 becomes through a layer that keeps its shape (`node` computing it). */
export function sameShape(ctx: ImportContext, emit: (input: string) => string): Value {
  const v = ctx.input(0);
  if (v?.kind === 'padded') {
    const x = ctx.image(0);
    return { ...x, node: emit(x.node) };
  }
  if (v?.kind === 'image' || v?.kind === 'flat' || v?.kind === 'pooled') return { ...v, node: emit(v.node) };
  return ctx.refuse(`its input is ${v ? describe(v) : 'missing'}`);
}

const relu = (ctx: ImportContext, activation: 'relu' | 'relu6') =>
  sameShape(ctx, (input) => ctx.emit({ className: 'ReLU', inputs: [input], activation }));

export const reluRule: OpRule = { ops: ['Relu'], translate: (ctx) => [relu(ctx, 'relu')] };

/** Clip with its bounds: ReLU6 ([0, 6]) or a ReLU ([0, ∞)); any other Clip is refused. */
function clip(ctx: ImportContext, [lo, hi]: [number, number]): Value[] {
  if (lo === 0 && hi === 6) return [relu(ctx, 'relu6')];
  if (lo === 0 && hi === Infinity) return [relu(ctx, 'relu')];
  return ctx.refuse(`Clip to [${lo}, ${hi}]: only ReLU6 ([0, 6]) and ReLU ([0, ∞)) are supported`);
}

/** Clip before opset 11: its bounds are attributes. */
export const clipAttributesRule: OpRule = {
  ops: ['Clip'],
  until: 10,
  translate: (ctx) => clip(ctx, [ctx.float('min', -Infinity), ctx.float('max', Infinity)]),
};

/** Clip from opset 11: its bounds are inputs (constants, each optional). */
export const clipInputsRule: OpRule = {
  ops: ['Clip'],
  since: 11,
  translate(ctx) {
    const at = (i: number, fallback: number) =>
      ctx.input(i) ? Number(ctx.constant(i, i === 1 ? 'min' : 'max').data[0]) : fallback;
    return clip(ctx, [at(1, -Infinity), at(2, Infinity)]);
  },
};
