// A single portable module's smaller file: a Conv2D output channel removed at every position,
// whose value only reaches other convolutions (through ReLUs and identity layers), is dropped
// from that layer's kernel and bias and from its readers' kernels (it is 0 there, so nothing
// changes). The layers are sliced in the plan's layout ([kh, kw, in, out]).
import type { ModelPlan, PlanNode } from '../graph/plan.ts';

/** A module as exported: per mask layer 1 = removed ([H, W, C] or [units]), and its head. */
export interface PortableModule {
  removed: Map<string, Uint8Array>;
  head: { wc: Float32Array; wuc: Float32Array; bc: number; buc: number; keep: Uint8Array };
}

/**
 * Per Conv2D layer, the output channels a single module's export keeps: all but those
 * removed at every position whose value reaches only convolutions (through ReLUs and
 * identity layers). Layers that drop nothing are absent.
 */
export function droppableChannels(plan: ModelPlan, m: PortableModule): Map<string, number[]> {
  const consumers = new Map<string, PlanNode[]>();
  for (const n of plan.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const onlyConvs = (name: string): boolean =>
    (consumers.get(name) ?? []).every(
      (c) =>
        (c.op === 'conv' && c.inputs.length === 1) ||
        (((c.op === 'act' && c.act === 'relu') || c.op === 'identity') &&
          name !== plan.output &&
          onlyConvs(c.name)),
    ) && (consumers.get(name) ?? []).length > 0;
  const out = new Map<string, number[]>();
  for (const n of plan.nodes) {
    if (n.op !== 'conv' || (n.act !== 'relu' && n.act !== 'linear') || plan.maskAt[n.name] !== n.name)
      continue;
    const removed = m.removed.get(n.name);
    if (!removed || !onlyConvs(n.name)) continue;
    const [h, w, c] = n.shape as [number, number, number];
    const keep: number[] = [];
    for (let ch = 0; ch < c; ch++) {
      let all = true;
      for (let p = 0; p < h * w && all; p++) all = removed[p * c + ch] === 1;
      if (!all) keep.push(ch);
    }
    if (keep.length === 0) keep.push(0); // a layer keeps one channel (of zeros) to stay valid
    if (keep.length < c) out.set(n.name, keep);
  }
  return out;
}

/** A kernel [kh, kw, in, out] restricted to the given input and output channels. */
function sliceKernel(
  k: Float32Array,
  [kh, kw, ci, co]: number[],
  ins: number[],
  outs: number[],
): Float32Array {
  const out = new Float32Array(kh! * kw! * ins.length * outs.length);
  let p = 0;
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (const i of ins) for (const o of outs) out[p++] = k[((y * kw! + x) * ci! + i) * co! + o]!;
  return out;
}

/**
 * The layer as a single module's export runs it: a convolution reading or writing fewer
 * channels (`kept`: per layer its output channels; `carried`: per value the channels it
 * carries, updated here), else the layer itself.
 */
export function slicedLayer(
  n: PlanNode,
  kept: Map<string, number[]>,
  carried: Map<string, number[]>,
): PlanNode {
  const inCh = n.inputs.length ? carried.get(n.inputs[0]!) : undefined;
  if ((n.op === 'act' || n.op === 'identity') && inCh) carried.set(n.name, inCh);
  const outCh = kept.get(n.name);
  if (n.op !== 'conv' || (!inCh && !outCh)) return n;
  const [kh, kw, ci, co] = n.kernelShape as [number, number, number, number];
  const ins = inCh ?? Array.from({ length: ci }, (_, i) => i);
  const outs = outCh ?? Array.from({ length: co }, (_, i) => i);
  if (outCh) carried.set(n.name, outCh);
  const [h, w] = n.inShape;
  const [oh, ow] = n.shape;
  return {
    ...n,
    kernel: sliceKernel(n.kernel!, n.kernelShape!, ins, outs),
    kernelShape: [kh, kw, ins.length, outs.length],
    bias: n.bias ? Float32Array.from(outs, (o) => n.bias![o]!) : null,
    inShape: [h!, w!, ins.length],
    shape: [oh!, ow!, outs.length],
  };
}
