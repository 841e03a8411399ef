// Gemm (PyTorch's Linear: weight [out, in], transB 1) and MatMul (tf2onnx's Dense: weight
// [in, out], its bias in the Add after it) over a flat vector, as a Dense layer with the
// plan's [in, out] kernel, its rows in the plan's feature order.
import type { ImportContext, OpRule } from '../context.ts';
import type { Tensor } from '../model.ts';

function dense(ctx: ImportContext, w: Tensor, transposed: boolean, alpha: number, bias: Float32Array | null) {
  const x = ctx.flat(0);
  if (w.dims.length !== 2) ctx.refuse(`a weight of shape [${w.dims.join(', ')}]`);
  const [fin, fout] = (transposed ? [w.dims[1], w.dims[0]] : w.dims) as [number, number];
  if (fin !== x.size) ctx.refuse(`its weight takes ${fin} features, its input has ${x.size}`);
  const kernel = new Float32Array(fin * fout);
  for (let i = 0; i < fin; i++) {
    const row = x.perm ? x.perm[i]! : i;
    for (let o = 0; o < fout; o++)
      kernel[row * fout + o] = alpha * Number(w.data[transposed ? o * fin + i : i * fout + o]);
  }
  const node = ctx.emit(
    { className: 'Dense', inputs: [x.node] },
    {
      kernel: { shape: [fin, fout], data: kernel },
      ...(bias ? { bias: { shape: [fout], data: bias } } : {}),
    },
  );
  return [{ kind: 'flat' as const, node, size: fout, perm: null }];
}

export const gemmRule: OpRule = {
  ops: ['Gemm'],
  translate(ctx) {
    if (ctx.int('transA', 0) !== 0) ctx.refuse('transA 1');
    const w = ctx.constant(1, 'weight');
    const transposed = ctx.int('transB', 0) === 1;
    const fout = w.dims[transposed ? 0 : 1]!;
    let bias: Float32Array | null = null;
    if (ctx.input(2)) {
      const c = ctx.constant(2, 'bias');
      if (c.data.length !== fout && c.data.length !== 1)
        ctx.refuse(`a bias of ${c.data.length} values for ${fout} units`);
      const beta = ctx.float('beta', 1);
      bias = Float32Array.from(
        { length: fout },
        (_, o) => beta * Number(c.data[c.data.length === 1 ? 0 : o]),
      );
    }
    return dense(ctx, w, transposed, ctx.float('alpha', 1), bias);
  },
};

export const matMulRule: OpRule = {
  ops: ['MatMul'],
  translate: (ctx) => dense(ctx, ctx.constant(1, 'weight'), false, 1, null),
};
