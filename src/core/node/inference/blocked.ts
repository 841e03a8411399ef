// Inference passes in onnxruntime's blocked channel layout (NCHWc) from the first convolution
// to the pooling: each convolution runs on the blocked kernels (graph/nchwc.ts) with its weights
// reordered here, its batch norm folded in, and the residual Add and the ReLU after it fused
// into the kernel where nothing else reads the values between; ReLUs, Adds and masks between
// convolutions are elementwise and run on the blocked values as they are (a mask is laid out
// blocked too: a constant reordered here, or a graph input reordered once per run). Without
// this, each Mul and each unfused ReLU or Add reordered the activations out of the blocked
// layout and back, which is what made a masked pass cost more than a plain one. Layers the
// blocked kernels do not cover run on the graph's NHWC values by their own rule
// (graph/layers/). Several passes (a composed evaluation's modules) share every value their
// prefixes share (passes.ts). onnxruntime only: the graph uses its com.microsoft.nchwc ops.
import type { GraphBuilder } from '../graph/builder.ts';
import { activate, forwardFor } from '../graph/layers/index.ts';
import { blockable, NCHWC } from '../graph/nchwc.ts';
import { int, ints, str } from '../graph/onnx-proto.ts';
import type { PlanNode } from '../graph/plan.ts';
import { Layouts, type Val } from './layouts.ts';
import { PassKeys, WEIGHT_FIELDS, type ModelPass, type PassMask } from './passes.ts';
import { blockedFilter, convWithNorm, normAffine } from './reorder.ts';

/** A blockable convolution and what is computed inside its kernel call: its norm, the Add after it, the ReLU. */
interface Chain {
  conv: string;
  norm: string | null;
  add: string | null;
  relu: boolean;
  /** The last node of the chain: its value is the chain's. */
  tail: string;
}

export interface EmittedPasses {
  /** Per pass, the values of `wanted` (NHWC), in its order. */
  values: string[][];
  keys: PassKeys;
}

/**
 * Emits `passes` over the preprocessed NHWC `input` into `g` on blocks of `block` channels;
 * returns per pass the values of the nodes `wanted`. Mask inputs are declared for every layer
 * a pass masks by 'input', used or not (the engine feeds them all).
 */
export function emitPasses(
  g: GraphBuilder,
  passes: readonly ModelPass[],
  input: string,
  wanted: readonly string[],
  block: number,
): EmittedPasses {
  const e = new Emitter(g, passes, input, block, new Set(wanted));
  const values = passes.map((_, p) => wanted.map((w) => e.layouts.nhwc(e.value(p, w), e.node(p, w).shape)));
  return { values, keys: e.keys };
}

class Emitter {
  readonly keys: PassKeys;
  readonly layouts: Layouts;
  /** Values by their computation: after the mask, before it, and fused kernel calls. */
  private readonly post = new Map<number, Val>();
  private readonly pre = new Map<string, Val>();
  private readonly kernels = new Map<number, string>();
  /** Blocked filters and biases by convolution and the norm folded into it. */
  private readonly filters = new Map<PlanNode, Map<PlanNode | null, [string, string]>>();
  private readonly shapes: Map<string, number[]>;
  private readonly maskedAt: Map<string, string>;
  /** Per pass: the chains by their last node, and the nodes inside a chain that end elsewhere. */
  private readonly chains: Map<string, Chain>[];
  private readonly inner: Set<string>[];
  private readonly byName: Map<string, PlanNode>[];
  private readonly g: GraphBuilder;
  private readonly passes: readonly ModelPass[];
  private readonly input: string;
  private readonly block: number;

  constructor(
    g: GraphBuilder,
    passes: readonly ModelPass[],
    input: string,
    block: number,
    kept: ReadonlySet<string>,
  ) {
    this.g = g;
    this.passes = passes;
    this.input = input;
    this.block = block;
    this.keys = new PassKeys(passes);
    this.layouts = new Layouts(g, input, block);
    const model = passes[0]!.plan;
    this.shapes = new Map(model.maskable.map((l) => [l.name, l.shape]));
    this.maskedAt = new Map(Object.entries(model.maskAt).map(([layer, at]) => [at, layer]));
    this.byName = passes.map((p) => new Map(p.plan.nodes.map((n) => [n.name, n])));
    for (const p of passes)
      for (const [layer, m] of p.masks)
        if (m === 'input') this.layouts.inputMask(layer, this.shapes.get(layer)!);
    this.chains = passes.map(() => new Map());
    this.inner = passes.map(() => new Set());
    passes.forEach((_, p) => {
      const claimed = new Set<string>(); // an Add fuses into one of its convolutions
      for (const n of model.nodes) {
        const c = this.chainAt(p, n, kept, claimed);
        if (!c) continue;
        this.chains[p]!.set(c.tail, c);
        for (const x of [c.conv, c.norm, c.add]) if (x && x !== c.tail) this.inner[p]!.add(x);
      }
    });
  }

  node(p: number, name: string): PlanNode {
    return this.byName[p]!.get(name)!;
  }

  private maskOf(p: number, node: string): { layer: string; m: PassMask } | null {
    const layer = this.maskedAt.get(node);
    const m = layer === undefined ? undefined : this.passes[p]!.masks.get(layer);
    return m === undefined ? null : { layer: layer!, m };
  }

  /** The chain a blockable convolution starts in pass `p` (null for any other node). */
  private chainAt(p: number, n: PlanNode, kept: ReadonlySet<string>, claimed: Set<string>): Chain | null {
    if (n.op !== 'conv' || !n.kernelShape) return null;
    const [, , ci, co] = n.kernelShape as [number, number, number, number];
    if (!blockable(ci, co, this.block)) return null;
    // Another fused activation runs by the layer's own rule.
    if (n.act !== 'linear' && n.act !== 'relu') return null;
    const c: Chain = { conv: n.name, norm: null, add: null, relu: n.act === 'relu', tail: n.name };
    if (n.act !== 'linear') return c;
    const next = () => this.keys.fusable(c.tail, kept);
    let r = next();
    if (r?.op === 'bn') c.tail = c.norm = r.name;
    r = next();
    // A mask that zeroes a few positions lets the Add fuse too: the sum there is the other
    // input's value, written back after the kernel.
    const mask = this.maskOf(p, c.tail);
    const few = mask && mask.m !== 'input' ? this.layouts.sparse(mask.m, n.shape, true) : null;
    if ((!mask || few?.zeros) && r?.op === 'add' && r.inputs.length === 2 && !claimed.has(r.name)) {
      claimed.add(r.name);
      c.tail = c.add = r.name;
      r = next();
    }
    if (r?.op === 'act' && r.act === 'relu') {
      c.tail = r.name;
      c.relu = true;
    }
    return c;
  }

  value(p: number, name: string): Val {
    const key = this.keys.post[p]!.get(name)!;
    const known = this.post.get(key);
    if (known) return known;
    if (this.inner[p]!.has(name)) throw new Error(`${name} is computed inside a fused convolution`);
    const chain = this.chains[p]!.get(name);
    const v = chain ? this.emitChain(p, chain) : this.emitMasked(p, this.node(p, name));
    this.post.set(key, v);
    return v;
  }

  /** A node by its own rule, then its mask (before the node's activation where the mask is its own). */
  private emitMasked(p: number, n: PlanNode): Val {
    const mask = this.maskOf(p, n.name);
    if (!mask) return this.emitNode(p, n);
    const own = mask.layer === n.name && n.act !== 'linear';
    const preKey = `${this.keys.pre[p]!.get(n.name)}${own ? ':linear' : ''}`;
    let y = this.pre.get(preKey);
    if (!y) this.pre.set(preKey, (y = this.emitNode(p, own ? { ...n, act: 'linear' } : n)));
    y = this.layouts.masked(y, mask.layer, mask.m, n.shape);
    return own ? { v: activate(this.g, y.v, n.act), blocked: y.blocked } : y;
  }

  private filter(conv: PlanNode, norm: PlanNode | null): [string, string] {
    const g = this.g;
    const [kh, kw, ci, co] = conv.kernelShape as [number, number, number, number];
    let byNorm = this.filters.get(conv);
    if (!byNorm) this.filters.set(conv, (byNorm = new Map()));
    let wb = byNorm.get(norm);
    if (!wb) {
      const { kernel, bias } = norm ? convWithNorm(conv, norm) : { kernel: conv.kernel!, bias: conv.bias };
      const filter = blockedFilter(kernel, [kh, kw, ci, co], this.block);
      wb = [g.constant([co, ci, kh, kw], filter), g.constant([co], bias ?? new Float32Array(co))];
      byNorm.set(norm, wb);
    }
    return wb;
  }

  private emitChain(p: number, c: Chain): Val {
    const g = this.g;
    const conv = this.node(p, c.conv);
    const masked = c.norm ?? c.conv;
    const mask = this.maskOf(p, masked);
    const add = c.add ? this.node(p, c.add) : null;
    const other = add?.inputs[add.inputs[0] === masked ? 1 : 0];
    const sum = other ? this.layouts.blocked(this.value(p, other), add!.shape) : null;
    // The other input where the mask zeroes, read before the kernel may write over it.
    let fix: { at: string; values: string } | null = null;
    if (sum && mask) {
      const at = this.layouts.rows(this.layouts.sparse(mask.m as Float32Array, conv.shape, true)!);
      const values = this.layouts.gathered(sum, at, conv.shape);
      fix = { at, values: c.relu ? g.op('Relu', [values]) : values };
    }
    // The kernel call, shared by every pass with the same convolution, whatever their masks.
    const key = this.keys.id(
      `kernel|${this.keys.pre[p]!.get(masked)}|${other ? this.keys.post[p]!.get(other) : ''}|${c.relu}`,
    );
    let y = this.kernels.get(key);
    if (!y) {
      const [kh, kw, ci] = conv.kernelShape as [number, number, number, number];
      const x = this.value(p, conv.inputs[0]!);
      const xin = ci % this.block === 0 ? this.layouts.blocked(x, conv.inShape) : this.layouts.nchw(x);
      const attrs = [
        ints('kernel_shape', [kh, kw]),
        ints('strides', conv.strides!),
        ints('pads', conv.pads!),
        ints('dilations', [1, 1]),
        int('group', 1),
      ];
      if (c.relu) attrs.push(str('activation', 'Relu'));
      g.tag = c.tail;
      const ins = [xin, ...this.filter(conv, c.norm ? this.node(p, c.norm) : null)];
      this.kernels.set(key, (y = g.opIn(NCHWC, 'Conv', sum ? [...ins, sum] : ins, attrs)));
    }
    if (fix) return { v: this.layouts.written(y, fix.at, fix.values, conv.shape, true), blocked: true };
    // relu(z * m) = relu(z) * m for m >= 0: a mask after the fused ReLU.
    return mask
      ? this.layouts.masked({ v: y, blocked: true }, mask.layer, mask.m, conv.shape)
      : { v: y, blocked: true };
  }

  private emitNode(p: number, n: PlanNode): Val {
    const g = this.g;
    if (n.op === 'input') return { v: this.input, blocked: false };
    const ins = n.inputs.map((i) => this.value(p, i));
    const x = ins[0]!;
    g.tag = n.name;
    if (n.op === 'identity') return x;
    if (n.op === 'act' && n.act !== 'softmax') return { v: activate(g, x.v, n.act), blocked: x.blocked };
    if (n.op === 'add' && ins.some((i) => i.blocked))
      return {
        v: g.op(
          'Sum',
          ins.map((i) => this.layouts.blocked(i, n.shape)),
        ),
        blocked: true,
      };
    if (n.op === 'bn' && x.blocked) return this.blockedNorm(x, n);
    if (n.op === 'gpool' && x.blocked) {
      const pool = g.opIn(NCHWC, n.pool === 'max' ? 'GlobalMaxPool' : 'GlobalAveragePool', [x.v]);
      // [N, C, 1, 1] blocked is [N, C] as it is.
      return { v: g.op('Reshape', [pool, g.int64([0, n.shape[0]!])]), blocked: false };
    }
    if (n.op === 'pool' && x.blocked) {
      const attrs = [ints('kernel_shape', n.poolSize!), ints('strides', n.strides!), ints('pads', n.pads!)];
      if (n.pool === 'avg') attrs.push(int('count_include_pad', n.countPad ? 1 : 0));
      return { v: g.opIn(NCHWC, n.pool === 'max' ? 'MaxPool' : 'AveragePool', [x.v], attrs), blocked: true };
    }
    // Its own rule, on NHWC values.
    const out = forwardFor(n.className).forward({
      g,
      node: n,
      inputs: ins.map((v, i) => this.layouts.nhwc(v, this.node(p, n.inputs[i]!).shape)),
      mode: 'eval',
      weight: (kind) => {
        const data = n[WEIGHT_FIELDS[kind]] as Float32Array | null | undefined;
        return data ? this.layouts.constant(data, kind === 'kernel' ? n.kernelShape! : [data.length]) : null;
      },
      setUpdate: () => undefined,
    }).output;
    return { v: out, blocked: false };
  }

  /** A batch norm on blocked values: each channel's scale and shift over a [N, C/b, H, W, b] view. */
  private blockedNorm(x: Val, n: PlanNode): Val {
    const g = this.g;
    const [h, w, c] = n.shape as [number, number, number];
    const b = this.block;
    const { scale, shift } = normAffine(n);
    const view = g.op('Reshape', [x.v, g.int64([0, c / b, h, w, b])]);
    const dims = [c / b, 1, 1, b];
    const y = g.op('Add', [g.op('Mul', [view, g.floats(dims, scale)]), g.floats(dims, shift)]);
    return { v: g.op('Reshape', [y, g.int64([0, c, h, w])]), blocked: true };
  }
}
