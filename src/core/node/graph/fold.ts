// A module's masks folded into its model's weights before any graph is built. A mask
// multiplies a Conv2D/Dense output after the bias and before the activation (or, where a
// batch norm is the linear layer's one reader, that norm's output: plan.maskAt), so a
// channel whose mask has one value v at every position is the layer with that channel's
// kernel and bias (or the norm's gamma and beta) scaled by v (0: removed everywhere, 1: kept
// everywhere; exact for both). Only the
// channels whose mask varies by position still need a multiplication in the graph: as an
// input, it costs a pass over the activations and keeps onnxruntime from fusing the layer
// with its neighbours, which is what made a masked pass cost more than a plain one.
import { createHash } from 'node:crypto';
import type { ModelPlan, PlanNode } from './plan.ts';

/** Per Conv2D/Dense layer, a multiplier shaped like its output ([H, W, C] or [units]). */
export type LayerMasks = Map<string, Float32Array | Uint8Array>;

export interface FoldedMasks {
  /** The model with every channel-constant mask folded into its layers (its own hash). */
  plan: ModelPlan;
  /** The masks that vary by position within a channel (their other channels 1); only those layers. */
  masks: Map<string, Float32Array>;
  /** Layers whose weights changed. */
  folded: string[];
}

/** Per channel of a mask, its value where it is the same at every position, else NaN. */
function channelValues(m: Float32Array | Uint8Array, channels: number): Float32Array {
  const v = new Float32Array(channels);
  for (let c = 0; c < channels; c++) v[c] = m[c]!;
  for (let i = channels; i < m.length; i++) {
    const c = i % channels;
    if (m[i] !== v[c]) v[c] = NaN;
  }
  return v;
}

/** The node with output channel c of its kernel and bias scaled by `scale[c]` (NaN: unchanged). */
function scaled(n: PlanNode, scale: Float32Array): PlanNode {
  const co = scale.length;
  const kernel = Float32Array.from(n.kernel!);
  // tfjs layouts: the output channel is the last axis of [kh, kw, in, out] and of [in, out].
  for (let i = 0; i < kernel.length; i++) {
    const s = scale[i % co]!;
    if (!Number.isNaN(s)) kernel[i] = kernel[i]! * s;
  }
  const bias = n.bias
    ? Float32Array.from(n.bias, (b, c) => (Number.isNaN(scale[c]!) ? b : b * scale[c]!))
    : n.bias;
  return { ...n, kernel, bias };
}

/**
 * A batch norm's output with channel c scaled by `scale[c]` (NaN: unchanged): gamma and beta
 * scaled, which scales the whole affine map (v * (x * gamma * rstd + beta - mean * gamma *
 * rstd)); a norm without gamma gets one.
 */
function scaledNorm(n: PlanNode, scale: Float32Array): PlanNode {
  const keep = (c: number) => Number.isNaN(scale[c]!);
  const gamma = Float32Array.from(n.gamma ?? new Float32Array(scale.length).fill(1), (g, c) =>
    keep(c) ? g : g * scale[c]!,
  );
  const beta = n.beta ? Float32Array.from(n.beta, (b, c) => (keep(c) ? b : b * scale[c]!)) : n.beta;
  return { ...n, gamma, beta };
}

/**
 * Folds every channel-constant part of `masks` into the plan's weights; returns the plan (with
 * a hash of the parent's and the masks') and the masks that are left. Layers whose masks are
 * all ones change nothing and are left out of both.
 */
export function foldMasks(plan: ModelPlan, masks: LayerMasks): FoldedMasks {
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const replaced = new Map<string, PlanNode>();
  const left = new Map<string, Float32Array>();
  const hash = createHash('sha256').update(plan.hash);
  for (const [name, m] of [...masks].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const n = byName.get(name);
    if (!n || (n.op !== 'conv' && n.op !== 'dense') || !n.kernel)
      throw new Error(`no Conv2D or Dense layer "${name}" to mask`);
    const channels = n.shape[n.shape.length - 1]!;
    const size = n.shape.reduce((a, b) => a * b, 1);
    if (m.length !== size) throw new Error(`mask for "${name}" has ${m.length} values, not ${size}`);
    const v = channelValues(m, channels);
    const scale = v.map((x) => (x === 1 ? NaN : x));
    const varying = v.some((x) => Number.isNaN(x));
    if (!scale.some((x) => !Number.isNaN(x)) && !varying) continue;
    hash.update(name).update(new Uint8Array(Float32Array.from(m).buffer));
    if (scale.some((x) => !Number.isNaN(x))) {
      // The mask applies where plan.maskAt says: the layer's output, or the batch norm after it.
      const at = byName.get(plan.maskAt[name] ?? name)!;
      replaced.set(at.name, at === n ? scaled(n, scale) : scaledNorm(at, scale));
    }
    if (varying)
      left.set(
        name,
        Float32Array.from(m, (x, i) => (Number.isNaN(v[i % channels]!) ? x : 1)),
      );
  }
  if (replaced.size === 0 && left.size === 0) return { plan, masks: left, folded: [] };
  return {
    plan: { ...plan, nodes: plan.nodes.map((n) => replaced.get(n.name) ?? n), hash: hash.digest('hex') },
    masks: left,
    folded: [...replaced.keys()],
  };
}
