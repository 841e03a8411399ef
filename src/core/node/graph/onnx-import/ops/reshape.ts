// Flatten, and the Reshape and Squeeze that flatten ([N, features]): an image becomes a plan
// Flatten layer, whose features the plan numbers H, W, C; where the file numbers them C, H, W
// (flattened from NCHW) the vector remembers the file's order, so the Dense layer after it
// takes its weight rows in the plan's order. A global pooling's [N, C, 1, 1] is already flat.
import type { ImportContext, OpRule } from '../context.ts';
import { chwOrder, describe, type Dim, type Value } from '../values.ts';

/** Input 0 as [N, features]. */
function flatten(ctx: ImportContext): Value {
  const v = ctx.input(0);
  if (v?.kind === 'flat') return v;
  if (v?.kind === 'pooled') return { kind: 'flat', node: v.node, size: v.channels, perm: null };
  const x = v?.kind === 'padded' ? ctx.image(0) : v;
  if (x?.kind !== 'image') return ctx.refuse(`flattening ${x ? describe(x) : 'nothing'}`);
  const node = ctx.emit({ className: 'Flatten', inputs: [x.node] });
  const [h, w, c] = x.shape;
  return { kind: 'flat', node, size: h * w * c, perm: x.layout === 'nchw' ? chwOrder(x.shape) : null };
}

/** The number of features input 0 has, [N, ...] flattened. */
function features(v: Value | null): number {
  if (v?.kind === 'flat') return v.size;
  if (v?.kind === 'pooled') return v.channels;
  if (v?.kind === 'image') return v.shape[0] * v.shape[1] * v.shape[2];
  if (v?.kind === 'padded') {
    const [h, w, c] = v.of.shape;
    return (h + v.pads[0] + v.pads[2]) * (w + v.pads[1] + v.pads[3]) * c;
  }
  return -1;
}

export const flattenRule: OpRule = {
  ops: ['Flatten'],
  translate(ctx) {
    const axis = ctx.int('axis', 1);
    const rank = ctx.input(0)?.kind === 'flat' ? 2 : 4;
    if ((axis < 0 ? axis + rank : axis) !== 1)
      ctx.refuse(`axis ${axis}: only flattening to [N, features] (axis 1)`);
    return [flatten(ctx)];
  },
};

export const reshapeRule: OpRule = {
  ops: ['Reshape'],
  translate(ctx) {
    const to = ctx.input(1);
    const dims: Dim[] | null =
      to?.kind === 'shape' ? to.dims : to?.kind === 'const' ? Array.from(to.t.data) : null;
    if (!dims) return ctx.refuse('a shape that is computed from the data');
    const f = features(ctx.input(0));
    const batch = (d: Dim) => d === 'N' || d === 0 || (ctx.batch !== null && d === ctx.batch);
    const flat =
      dims.length === 2 &&
      ((batch(dims[0]!) && (dims[1] === -1 || dims[1] === f)) || (dims[0] === -1 && dims[1] === f));
    if (!flat) return ctx.refuse(`reshaping to [${dims.join(', ')}]: only to [N, features] (a flatten)`);
    return [flatten(ctx)];
  },
};

/** Squeeze of the spatial axes of a [N, C, 1, 1] value (tf2onnx writes it after a global pooling). */
export const squeezeRule: OpRule = {
  ops: ['Squeeze'],
  translate(ctx) {
    const axes =
      ctx.opset >= 13
        ? ctx.input(1)
          ? Array.from(ctx.constant(1, 'axes').data)
          : null
        : ctx.attr('axes')?.ints;
    const v = ctx.input(0);
    const spatial = !axes || (axes.length === 2 && axes.every((a) => [2, 3, -1, -2].includes(a)));
    const ones =
      v?.kind === 'pooled' || (v?.kind === 'image' && v.layout === 'nchw' && v.shape[0] * v.shape[1] === 1);
    if (!spatial || !ones)
      return ctx.refuse(`squeezing ${v ? describe(v) : 'nothing'} on axes [${axes?.join(', ') ?? ''}]`);
    return [flatten(ctx)];
  },
};

/** Transpose between NHWC and NCHW (tf2onnx's at the input, and before a Keras Flatten). */
export const transposeRule: OpRule = {
  ops: ['Transpose'],
  translate(ctx) {
    const v = ctx.input(0);
    const perm = ctx.ints('perm', []).join();
    const x = v?.kind === 'padded' ? ctx.image(0) : v;
    if (x?.kind === 'image' && x.layout === 'nhwc' && perm === '0,3,1,2') return [{ ...x, layout: 'nchw' }];
    if (x?.kind === 'image' && x.layout === 'nchw' && perm === '0,2,3,1') return [{ ...x, layout: 'nhwc' }];
    if (x?.kind === 'flat' && perm === '0,1') return [x];
    return ctx.refuse(`transposing ${x ? describe(x) : 'nothing'} by [${perm}]: only between NCHW and NHWC`);
  },
};

/** Shape of a computed value: its dims, the batch size as 'N'. */
export const shapeRule: OpRule = {
  ops: ['Shape'],
  translate(ctx) {
    const v = ctx.input(0);
    if (ctx.attr('start') || ctx.attr('end')) ctx.refuse('a Shape with start or end');
    const x = v?.kind === 'padded' ? ctx.image(0) : v;
    const dims: Dim[] =
      x?.kind === 'image'
        ? x.layout === 'nchw'
          ? ['N', x.shape[2], x.shape[0], x.shape[1]]
          : ['N', ...x.shape]
        : x?.kind === 'flat'
          ? ['N', x.size]
          : x?.kind === 'pooled'
            ? ['N', x.channels, 1, 1]
            : ctx.refuse('the shape of a constant');
    return [{ kind: 'shape', dims }];
  },
};
