// Constants in the layouts onnxruntime's blocked (NCHWc) kernels read, computed once when a
// graph is built (blocked.ts): filters, images (masks) and a batch norm folded into the
// convolution before it.
import type { PlanNode } from '../graph/plan.ts';

/**
 * A [kh, kw, in, out] kernel as the blocked filter (logical [out, in, kh, kw]): [out/b, in/b,
 * kh, kw, b_in, b_out], or [out/b, in, kh, kw, b_out] when the input has fewer channels than a
 * block (the kernels then read the input channels first), as graph/nchwc.ts's blockedFilter
 * reorders a filter value in the graph.
 */
export function blockedFilter(
  kernel: Float32Array,
  [kh, kw, ci, co]: [number, number, number, number],
  b: number,
): Float32Array {
  const out = new Float32Array(kernel.length);
  const whole = ci % b === 0;
  let at = 0;
  for (let ob = 0; ob < co / b; ob++)
    for (let ib = 0; ib < (whole ? ci / b : ci); ib++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          for (let i = 0; i < (whole ? b : 1); i++) {
            const src = ((y * kw + x) * ci + (whole ? ib * b + i : ib)) * co + ob * b;
            for (let o = 0; o < b; o++) out[at++] = kernel[src + o]!;
          }
  return out;
}

/** An [H, W, C] image (a mask) in the blocked layout [C/b, H, W, b]. */
export function blockedImage(m: Float32Array, [h, w, c]: number[], b: number): Float32Array {
  const out = new Float32Array(m.length);
  const hw = h! * w!;
  let at = 0;
  for (let cb = 0; cb < c! / b; cb++)
    for (let p = 0; p < hw; p++) for (let i = 0; i < b; i++) out[at++] = m[p * c! + cb * b + i]!;
  return out;
}

/** An inference batch norm as one scale and shift per channel (float64, then float32). */
export function normAffine(n: PlanNode): { scale: Float32Array; shift: Float32Array } {
  const c = n.mean!.length;
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const s = (n.gamma ? n.gamma[k]! : 1) / Math.sqrt(n.variance![k]! + n.epsilon!);
    scale[k] = s;
    shift[k] = (n.beta ? n.beta[k]! : 0) - n.mean![k]! * s;
  }
  return { scale, shift };
}

/** A linear convolution followed by a batch norm as one convolution: kernel and bias scaled per output channel. */
export function convWithNorm(conv: PlanNode, norm: PlanNode): { kernel: Float32Array; bias: Float32Array } {
  const { scale, shift } = normAffine(norm);
  const co = scale.length;
  const kernel = Float32Array.from(conv.kernel!, (v, i) => v * scale[i % co]!);
  const bias = Float32Array.from(shift, (s, k) => (conv.bias ? conv.bias[k]! * scale[k]! : 0) + s);
  return { kernel, bias };
}
