// A small constant evaluator: what exporters compute from constants alone inside the graph
// (PyTorch's Pad writes a chain of 15 constant nodes to reorder its pads; a view(N, -1) is a
// Shape/Gather/Unsqueeze/Concat chain around the batch size), folded so that the layer rules
// read plain values. Shapes that hold the batch size ('N') fold like integer constants.
import { Refusal, type ImportContext } from './context.ts';
import type { Tensor } from './model.ts';
import type { Dim, Value } from './values.ts';

const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const int = (dims: number[], data: number[]): Value => ({ kind: 'const', t: { dims, type: 'int', data } });
const tensor = (dims: number[], data: number[], type: Tensor['type']): Value => ({
  kind: 'const',
  t: { dims, type, data: type === 'float' ? Float32Array.from(data) : data },
});

/** A constant or shape input as a list of numbers (or dims), its shape and type. */
type Folded = { dims: Dim[]; shape: number[]; type: Tensor['type'] };

/** A constant or shape input as a list of dims (shapes) or numbers; null where absent. */
function dimsOf(v: Value | null): Folded | null {
  if (!v) return null;
  if (v.kind === 'shape') return { dims: v.dims, shape: v.scalar ? [] : [v.dims.length], type: 'int' };
  if (v.kind === 'const') return { dims: Array.from(v.t.data), shape: v.t.dims, type: v.t.type };
  return null;
}

/** A folded result: a shape value where the batch size is in it, else a constant. */
function result(dims: Dim[], shape: number[], type: Tensor['type']): Value {
  if (dims.some((d) => d === 'N')) {
    if (shape.length > 1) throw new Refusal('a shape of rank above 1');
    return { kind: 'shape', dims, ...(shape.length === 0 ? { scalar: true } : {}) };
  }
  return tensor(shape, dims as number[], type);
}

const axisOf = (a: number, rank: number) => (a < 0 ? a + rank : a);

/** Row-major strides of a shape. */
const strides = (shape: readonly number[]) => shape.map((_, i) => size(shape.slice(i + 1)));

/** Transposes `data` of `shape` by `perm`. */
function transpose<T>(data: readonly T[], shape: readonly number[], perm: readonly number[]): T[] {
  const out = new Array<T>(data.length);
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = strides(shape);
  const outStrides = strides(outShape);
  for (let i = 0; i < data.length; i++) {
    let src = 0;
    for (let d = 0; d < outShape.length; d++)
      src += (Math.floor(i / outStrides[d]!) % outShape[d]!) * inStrides[perm[d]!]!;
    out[i] = data[src]!;
  }
  return out;
}

/** The operators folded where every input is a constant (or a shape). */
export const FOLDED: ReadonlySet<string> = new Set([
  'Constant',
  'Identity',
  'Cast',
  'ConstantOfShape',
  'Shape',
  'Concat',
  'Unsqueeze',
  'Squeeze',
  'Gather',
  'Reshape',
  'Transpose',
  'Slice',
  'Add',
  'Sub',
  'Mul',
  'Div',
]);

/** Slice over constants (ONNX's clamping: [0, n] going up, [-1, n - 1] going down). */
function sliceConstant(ctx: ImportContext, x: Folded, args: (Folded | null)[]): Value {
  const fromInputs = ctx.opset >= 10;
  const list = (k: number, attr: string) =>
    (fromInputs ? args[k]?.dims : ctx.attr(attr)?.ints) as number[] | undefined;
  const starts = list(1, 'starts');
  const ends = list(2, 'ends');
  if (!starts || !ends) return ctx.refuse('a slice without starts and ends');
  const axes = list(3, 'axes') ?? starts.map((_, k) => k);
  const steps = (fromInputs ? (args[4]?.dims as number[] | undefined) : undefined) ?? starts.map(() => 1);
  // Per axis, the indices kept (ONNX's clamping: [0, n] going up, [-1, n - 1] going down).
  const picks = x.shape.map((n) => Array.from({ length: n }, (_, k) => k));
  axes.forEach((axis, k) => {
    const ax = axisOf(axis, x.shape.length);
    const n = x.shape[ax]!;
    const step = steps[k]!;
    const at = (v: number) => (v < 0 ? v + n : v);
    const kept: number[] = [];
    if (step > 0)
      for (
        let i = Math.max(0, Math.min(n, at(starts[k]!)));
        i < Math.max(0, Math.min(n, at(ends[k]!)));
        i += step
      )
        kept.push(i);
    else
      for (
        let i = Math.max(-1, Math.min(n - 1, at(starts[k]!)));
        i > Math.max(-1, Math.min(n - 1, at(ends[k]!)));
        i += step
      )
        kept.push(i);
    picks[ax] = kept;
  });
  const st = strides(x.shape);
  let flat: number[] = [0];
  for (let d = 0; d < x.shape.length; d++)
    flat = flat.flatMap((base) => picks[d]!.map((i) => base + i * st[d]!));
  return result(
    flat.map((i) => x.dims[i]!),
    picks.map((p) => p.length),
    x.type,
  );
}

/** The node's outputs folded, or null where its operator is not one folded here. */
export function foldConstant(ctx: ImportContext): Value[] | null {
  const { node } = ctx;
  const args = node.inputs.map((_, i) => dimsOf(ctx.input(i)));
  const a = args[0];
  const need = () => {
    if (!a) ctx.refuse('its input is missing');
    return a!;
  };
  const refuse = ctx.refuse;
  switch (node.opType) {
    case 'Constant': {
      const attr = [...node.attrs.values()][0];
      if (attr?.t) return [{ kind: 'const', t: attr.t }];
      if (attr?.f !== undefined) return [tensor([], [attr.f], 'float')];
      if (attr?.i !== undefined) return [int([], [attr.i])];
      if (attr?.floats) return [tensor([attr.floats.length], attr.floats, 'float')];
      if (attr?.ints) return [int([attr.ints.length], attr.ints)];
      return refuse(`a constant given as ${attr?.name ?? 'nothing'} is not read`);
    }
    case 'Identity':
    case 'Cast': {
      const x = need();
      const to = node.opType === 'Cast' ? ctx.int('to', 1) : 0;
      const type = to === 0 ? x.type : [1, 10, 11].includes(to) ? 'float' : 'int';
      const v = ctx.input(0)!;
      if (v.kind === 'shape') return [v];
      return [
        tensor(
          x.shape,
          (x.dims as number[]).map((d) => (type === 'int' ? Math.trunc(d) : d)),
          type,
        ),
      ];
    }
    case 'ConstantOfShape': {
      const shape = need().dims;
      if (shape.some((d) => d === 'N')) return refuse('a constant as large as the batch');
      const value = ctx.attr('value')?.t;
      const fill = value ? value.data[0]! : 0;
      return [
        tensor(
          shape as number[],
          new Array<number>(size(shape as number[])).fill(fill),
          value?.type ?? 'float',
        ),
      ];
    }
    case 'Shape': {
      const v = ctx.input(0)!;
      return [
        int([v.kind === 'const' ? v.t.dims.length : 1], v.kind === 'const' ? v.t.dims : [need().dims.length]),
      ];
    }
    case 'Concat': {
      const parts = args.filter((x) => x !== null);
      if (parts.some((p) => p.shape.length !== 1))
        return refuse('concatenating constants of rank other than 1');
      const dims = parts.flatMap((p) => p.dims);
      return [result(dims, [dims.length], parts[0]?.type ?? 'int')];
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const x = need();
      const axes = (ctx.opset >= 13 ? args[1]?.dims : ctx.attr('axes')?.ints) as number[] | undefined;
      let shape = [...x.shape];
      if (node.opType === 'Unsqueeze') {
        const rank = shape.length + (axes?.length ?? 0);
        for (const ax of [...(axes ?? [])].map((q) => axisOf(q, rank)).sort((p, q) => p - q))
          shape.splice(ax, 0, 1);
      } else {
        const drop = new Set(
          (axes ?? shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((q) => axisOf(q, shape.length)),
        );
        shape = shape.filter((_, i) => !drop.has(i));
      }
      return [result(x.dims, shape, x.type)];
    }
    case 'Gather': {
      const x = need();
      const idx = args[1];
      if (!idx || idx.dims.some((d) => d === 'N')) return refuse('gathering at computed indices');
      const axis = axisOf(ctx.int('axis', 0), x.shape.length);
      if (x.shape.length !== 1 || axis !== 0) return refuse('gathering from a constant of rank other than 1');
      const picked = (idx.dims as number[]).map((i) => x.dims[axisOf(i, x.dims.length)]!);
      return [result(picked, idx.shape, x.type)];
    }
    case 'Reshape': {
      const x = need();
      const to = args[1]?.dims;
      if (!to || to.some((d) => d === 'N')) return refuse('reshaping a constant to a computed shape');
      const total = size(x.shape);
      const known = (to as number[]).map((d, i) => (d === 0 ? x.shape[i]! : d));
      const free = known.indexOf(-1);
      if (free >= 0) known[free] = total / -size(known);
      return [result(x.dims, known, x.type)];
    }
    case 'Transpose': {
      const x = need();
      const perm = ctx.ints(
        'perm',
        x.shape.map((_, i) => x.shape.length - 1 - i),
      );
      return [
        result(
          transpose(x.dims, x.shape, perm),
          perm.map((p) => x.shape[p]!),
          x.type,
        ),
      ];
    }
    case 'Slice':
      return [sliceConstant(ctx, need(), args)];
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div': {
      const [x, y] = [need(), args[1]];
      if (!y || x.dims.some((d) => d === 'N') || y.dims.some((d) => d === 'N') || size(y.shape) !== 1)
        return refuse('arithmetic on constants other than with one number');
      const k = y.dims[0] as number;
      const f = {
        Add: (p: number) => p + k,
        Sub: (p: number) => p - k,
        Mul: (p: number) => p * k,
        Div: (p: number) => p / k,
      }[node.opType];
      const type = x.type === 'float' || y.type === 'float' ? 'float' : 'int';
      return [
        tensor(
          x.shape,
          (x.dims as number[]).map((p) => (type === 'int' ? Math.trunc(f(p)) : f(p))),
          type,
        ),
      ];
    }
    default:
      return null;
  }
}
