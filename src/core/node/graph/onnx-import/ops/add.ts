// Add: of two computed values of one shape (a residual connection) an Add layer; of a
// computed vector and a constant, the bias of the Dense layer a MatMul just made (tf2onnx and
// Keras write Dense as MatMul + Add). Any other constant added is refused.
import type { ImportContext, OpRule } from '../context.ts';
import { describe, type Value } from '../values.ts';

/** A MatMul's Dense layer whose only reader is this Add, without a bias yet: it takes the constant. */
function bias(ctx: ImportContext, v: Value, k: number): Value[] {
  const c = ctx.constant(k, 'bias');
  const layer = v.kind === 'flat' ? ctx.layer(v.node) : undefined;
  if (v.kind !== 'flat' || !layer || layer.spec.className !== 'Dense' || layer.weights.bias || v.perm)
    return ctx.refuse(
      `adding a constant to ${describe(v)}: only a Dense layer's bias (MatMul + Add) is read`,
    );
  const units = v.size;
  if (c.data.length !== units && c.data.length !== 1)
    return ctx.refuse(`a bias of ${c.data.length} values for ${units} units`);
  layer.weights.bias = {
    shape: [units],
    data: Float32Array.from({ length: units }, (_, i) => Number(c.data[c.data.length === 1 ? 0 : i])),
  };
  return [v];
}

export const addRule: OpRule = {
  ops: ['Add'],
  translate(ctx) {
    const a = ctx.input(0);
    const b = ctx.input(1);
    if (!a || !b) return ctx.refuse('an input is missing');
    if (b.kind === 'const') return bias(ctx, a, 1);
    if (a.kind === 'const') return bias(ctx, b, 0);
    const x = a.kind === 'padded' ? ctx.image(0) : a;
    const y = b.kind === 'padded' ? ctx.image(1) : b;
    const same =
      (x.kind === 'image' &&
        y.kind === 'image' &&
        x.layout === y.layout &&
        x.shape.join() === y.shape.join()) ||
      (x.kind === 'flat' && y.kind === 'flat' && x.size === y.size && String(x.perm) === String(y.perm)) ||
      (x.kind === 'pooled' && y.kind === 'pooled' && x.channels === y.channels);
    if (!same)
      return ctx.refuse(
        `adding ${describe(x)} and ${describe(y)}: only values of one shape (no broadcasting)`,
      );
    const node = ctx.emit({
      className: 'Add',
      inputs: [(x as { node: string }).node, (y as { node: string }).node],
    });
    return [{ ...(x as Exclude<Value, { kind: 'const' | 'shape' | 'padded' | 'refused' }>), node }];
  },
};
