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
import { activate, forwardFor, type WeightKind } from '../graph/layers/index.ts';
import { blockable, NCHWC } from '../graph/nchwc.ts';
import { DataType, int, ints, str } from '../graph/onnx-proto.ts';
import type { PlanNode } from '../graph/plan.ts';
import { fusable, maskInput, passKeys, type ModelPass, type PassKeys, type PassMask } from './passes.ts';
import { blockedFilter, blockedImage, convWithNorm, normAffine } from './reorder.ts';

/** A value: NHWC (or [N, units]), or blocked [N, C, H, W] (C a multiple of the block). */
interface Val {
  v: string;
  blocked: boolean;
}

const WEIGHT_FIELDS: Record<WeightKind, keyof PlanNode> = {
  kernel: 'kernel',
  bias: 'bias',
  gamma: 'gamma',
  beta: 'beta',
  moving_mean: 'mean',
  moving_variance: 'variance',
};

/** A blockable convolution and what is computed inside its kernel call: its norm, the Add after it, the ReLU. */
interface Chain {
  conv: string;
  norm: string | null;
  add: string | null;
  relu: boolean;
  /** The last node of the chain: its value is the chain's. */
  tail: string;
}

/** A mask's positions that are not 1, in a value's layout, and its values there. */
interface Sparse {
  at: BigInt64Array;
  values: Float32Array;
  /** Every one of them 0 (the value is written, nothing read). */
  zeros: boolean;
}

/**
 * A mask writes its positions one by one where at most 1 in SPARSE of them is not 1: a write
 * in place costs far more per value than a multiplication streamed over the whole value, and
 * far less in all when few values change.
 */
const SPARSE = Number(process.env.DECOMPOSER_SPARSE ?? 16);

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
  return { values: passes.map((_, p) => wanted.map((w) => e.nhwc(e.value(p, w), w))), keys: e.keys };
}

class Emitter {
  readonly keys: PassKeys;
  private readonly memo = new Map<number, Val>();
  private readonly consts = new Map<object, string>();
  private readonly blockedMasks = new Map<object, string>();
  private readonly sparseBlocked = new Map<object, Sparse | null>();
  private readonly sparseFlat = new Map<object, Sparse | null>();
  /** The batch size ([1]), where a mask is written position by position. */
  private batch: string | null = null;
  /** Blocked filters and biases by convolution and the norm folded into it. */
  private readonly filters = new Map<PlanNode, Map<PlanNode | null, [string, string]>>();
  private readonly layouts = new Map<string, string>();
  private readonly maskInputs = new Map<string, { nhwc: string; blocked?: string }>();
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
    this.keys = passKeys(passes);
    const model = passes[0]!.plan;
    this.shapes = new Map(model.maskable.map((l) => [l.name, l.shape]));
    this.maskedAt = new Map(Object.entries(model.maskAt).map(([layer, at]) => [at, layer]));
    this.byName = passes.map((p) => new Map(p.plan.nodes.map((n) => [n.name, n])));
    for (const p of passes) for (const [layer, m] of p.masks) if (m === 'input') this.inputMask(layer);
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

  private node(p: number, name: string): PlanNode {
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
    const next = () => fusable(this.keys, c.tail, kept);
    let r = next();
    if (r?.op === 'bn') c.tail = c.norm = r.name;
    r = next();
    // A mask that zeroes a few positions lets the Add fuse too: the sum there is the other
    // input's value, written back after the kernel.
    const mask = this.maskOf(p, c.tail);
    const few = mask && mask.m !== 'input' ? this.sparse(mask.m, n.shape, true) : null;
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
    const key = this.keys.keys[p]!.get(name)!;
    const known = this.memo.get(key);
    if (known) return known;
    if (this.inner[p]!.has(name)) throw new Error(`${name} is computed inside a fused convolution`);
    const chain = this.chains[p]!.get(name);
    this.g.tag = name;
    const v = chain ? this.emitChain(p, chain) : this.emitNode(p, this.node(p, name));
    this.memo.set(key, v);
    return v;
  }

  /** A weight or mask as a constant, one per array. */
  private constant(data: Float32Array, dims: number[]): string {
    let c = this.consts.get(data);
    if (!c) this.consts.set(data, (c = this.g.constant(dims, data)));
    return c;
  }

  private emitChain(p: number, c: Chain): Val {
    const g = this.g;
    const conv = this.node(p, c.conv);
    const [kh, kw, ci, co] = conv.kernelShape as [number, number, number, number];
    const x = this.value(p, conv.inputs[0]!);
    const xin = ci % this.block === 0 ? this.blocked(x, conv.inShape) : this.nchw(x);
    const norm = c.norm ? this.node(p, c.norm) : null;
    // The filter and bias as the kernels read them, the norm folded in: once per weights.
    let byNorm = this.filters.get(conv);
    if (!byNorm) this.filters.set(conv, (byNorm = new Map()));
    let wb = byNorm.get(norm);
    if (!wb) {
      const { kernel, bias } = norm ? convWithNorm(conv, norm) : { kernel: conv.kernel!, bias: conv.bias };
      const filter = blockedFilter(kernel, [kh, kw, ci, co], this.block);
      wb = [g.constant([co, ci, kh, kw], filter), g.constant([co], bias ?? new Float32Array(co))];
      byNorm.set(norm, wb);
    }
    const [w, b] = wb;
    const ins = [xin, w, b];
    const mask = this.maskOf(p, c.norm ?? c.conv);
    let fix: { at: string; values: string } | null = null;
    if (c.add) {
      const add = this.node(p, c.add);
      const other = add.inputs[add.inputs[0] === (c.norm ?? c.conv) ? 1 : 0]!;
      const sum = this.blocked(this.value(p, other), add.shape);
      if (mask) {
        // The other input where the mask zeroes, read before the kernel may write over it.
        const at = this.rows(this.sparse(mask.m as Float32Array, conv.shape, true)!);
        const values = g.op('GatherElements', [this.flat(sum, conv.shape), at], [int('axis', 1)]);
        fix = { at, values: c.relu ? g.op('Relu', [values]) : values };
      }
      ins.push(sum);
    }
    const attrs = [
      ints('kernel_shape', [kh, kw]),
      ints('strides', conv.strides!),
      ints('pads', conv.pads!),
      ints('dilations', [1, 1]),
      int('group', 1),
    ];
    if (c.relu) attrs.push(str('activation', 'Relu'));
    const y: Val = { v: g.opIn(NCHWC, 'Conv', ins, attrs), blocked: true };
    if (fix) return { v: this.written(y.v, fix.at, fix.values, conv.shape, true), blocked: true };
    // relu(z * m) = relu(z) * m for m >= 0: a mask after the fused ReLU.
    return mask ? this.masked(y, mask, conv.shape) : y;
  }

  private emitNode(p: number, n: PlanNode): Val {
    const g = this.g;
    if (n.op === 'input') return { v: this.input, blocked: false };
    const ins = n.inputs.map((i) => this.value(p, i));
    const mask = this.maskOf(p, n.name);
    const x = ins[0]!;
    let y: Val | null = null;
    if (n.op === 'identity') y = x;
    else if (n.op === 'act' && n.act !== 'softmax') y = { v: activate(g, x.v, n.act), blocked: x.blocked };
    else if (n.op === 'add' && ins.some((i) => i.blocked))
      y = {
        v: g.op(
          'Sum',
          ins.map((i) => this.blocked(i, n.shape)),
        ),
        blocked: true,
      };
    else if (n.op === 'bn' && x.blocked) y = this.blockedNorm(x, n);
    else if (n.op === 'gpool' && x.blocked) {
      const pool = g.opIn(NCHWC, n.pool === 'max' ? 'GlobalMaxPool' : 'GlobalAveragePool', [x.v]);
      // [N, C, 1, 1] blocked is [N, C] as it is.
      y = { v: g.op('Reshape', [pool, g.int64([0, n.shape[0]!])]), blocked: false };
    } else if (n.op === 'pool' && x.blocked) {
      const attrs = [ints('kernel_shape', n.poolSize!), ints('strides', n.strides!), ints('pads', n.pads!)];
      if (n.pool === 'avg') attrs.push(int('count_include_pad', n.countPad ? 1 : 0));
      y = { v: g.opIn(NCHWC, n.pool === 'max' ? 'MaxPool' : 'AveragePool', [x.v], attrs), blocked: true };
    }
    if (y) return mask ? this.masked(y, mask, n.shape) : y;
    // Its own rule on NHWC values; a mask on a layer's own output goes before its activation.
    const own = mask !== null && mask.layer === n.name && n.act !== 'linear';
    const out = forwardFor(n.className).forward({
      g,
      node: own ? { ...n, act: 'linear' } : n,
      inputs: ins.map((v, i) => this.nhwc(v, n.inputs[i]!, p)),
      mode: 'eval',
      weight: (kind) => {
        const data = n[WEIGHT_FIELDS[kind]] as Float32Array | null | undefined;
        return data ? this.constant(data, kind === 'kernel' ? n.kernelShape! : [data.length]) : null;
      },
      setUpdate: () => undefined,
    }).output;
    y = { v: out, blocked: false };
    if (mask) y = this.masked(y, mask, n.shape);
    return own ? { v: activate(g, y.v, n.act), blocked: false } : y;
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

  private inputMask(layer: string): { nhwc: string; blocked?: string } {
    let m = this.maskInputs.get(layer);
    if (!m)
      this.maskInputs.set(layer, (m = { nhwc: this.g.input(maskInput(layer), this.shapes.get(layer)!) }));
    return m;
  }

  /** `y` times a mask, laid out as `y` is. */
  private masked(y: Val, { layer, m }: { layer: string; m: PassMask }, shape: number[]): Val {
    const g = this.g;
    let mask: string;
    const few = m === 'input' ? null : this.sparse(m, shape, y.blocked);
    if (few) return { v: this.scattered(y.v, few, shape, y.blocked), blocked: y.blocked };
    if (m !== 'input') {
      let b = this.blockedMasks.get(m);
      if (y.blocked && !b) {
        const dims = [1, shape[2]!, shape[0]!, shape[1]!];
        this.blockedMasks.set(m, (b = g.constant(dims, blockedImage(m, shape, this.block))));
      }
      mask = y.blocked ? b! : this.constant(m, shape);
    } else {
      const input = this.inputMask(layer);
      if (y.blocked)
        input.blocked ??= this.blocked(
          { v: g.op('Reshape', [input.nhwc, g.int64([1, ...shape])]), blocked: false },
          shape,
        );
      mask = y.blocked ? input.blocked! : input.nhwc;
    }
    return { v: g.op('Mul', [y.v, mask]), blocked: y.blocked };
  }

  /**
   * Where a constant mask is not 1 (flat positions in the value's layout) and its values there,
   * when those are few enough that writing them costs less than multiplying every value.
   */
  private sparse(m: Float32Array, shape: number[], blocked: boolean): Sparse | null {
    const key = blocked ? this.sparseBlocked : this.sparseFlat;
    if (key.has(m)) return key.get(m)!;
    const laid = blocked ? blockedImage(m, shape, this.block) : m;
    const at: number[] = [];
    for (let i = 0; i < laid.length; i++) if (laid[i] !== 1) at.push(i);
    const few =
      at.length * SPARSE <= laid.length
        ? {
            at: BigInt64Array.from(at, (i) => BigInt(i)),
            values: Float32Array.from(at, (i) => laid[i]!),
            zeros: at.every((i) => laid[i] === 0),
          }
        : null;
    key.set(m, few);
    return few;
  }

  /** A row per image of a constant [1, k] (the batch's rows of positions or values). */
  private perImage(row: string, k: number): string {
    const g = this.g;
    this.batch ??= g.op('Shape', [this.input], [int('start', 0), int('end', 1)]);
    return g.op('Expand', [row, g.op('Concat', [this.batch, g.int64([k])], [int('axis', 0)])]);
  }

  /** The positions of a sparse mask, one row per image ([N, k]), for GatherElements and ScatterElements. */
  private rows(few: Sparse): string {
    const at = this.g.constant([1, few.at.length], new Uint8Array(few.at.buffer), DataType.INT64);
    return this.perImage(at, few.at.length);
  }

  /** A value as one row per image. */
  private flat(y: string, shape: number[]): string {
    return this.g.op('Reshape', [y, this.g.int64([0, shape.reduce((a, b) => a * b, 1)])]);
  }

  /** `y` with `values` ([N, k]) written at `at` (in place, where onnxruntime can). */
  private written(y: string, at: string, values: string, shape: number[], blocked: boolean): string {
    const g = this.g;
    const out = g.op('ScatterElements', [this.flat(y, shape), at, values], [int('axis', 1)]);
    const [h, w, c] = shape;
    return g.op('Reshape', [out, g.int64(blocked ? [0, c!, h!, w!] : [0, ...shape])]);
  }

  /** `y` with the values at `few.at` of each image multiplied by the mask's. */
  private scattered(y: string, few: Sparse, shape: number[], blocked: boolean): string {
    const g = this.g;
    const at = this.rows(few);
    const values = this.perImage(g.constant([1, few.at.length], few.values), few.at.length);
    const updates = few.zeros
      ? values
      : g.op('Mul', [g.op('GatherElements', [this.flat(y, shape), at], [int('axis', 1)]), values]);
    return this.written(y, at, updates, shape, blocked);
  }

  // Reshapes keep the batch axis (0, not -1): onnxruntime then knows a value and its reshaped
  // view are the same size, and writes a sparse mask in place instead of copying the value.

  /** `x` ([H, W, C]) blocked: with one block of channels NHWC is the blocked layout byte for byte. */
  private blocked(x: Val, [h, w, c]: number[]): string {
    if (x.blocked) return x.v;
    return this.layout(`b:${x.v}`, () =>
      c === this.block
        ? this.g.op('Reshape', [x.v, this.g.int64([0, c, h!, w!])])
        : this.g.opIn(NCHWC, 'ReorderInput', [x.v], [int('channels_last', 1)]),
    );
  }

  /** NHWC `x` channels first (a convolution with fewer input channels than a block reads it so). */
  private nchw(x: Val): string {
    if (x.blocked) throw new Error('a blocked value has at least one block of channels');
    return this.layout(`t:${x.v}`, () => this.g.op('Transpose', [x.v], [ints('perm', [0, 3, 1, 2])]));
  }

  /** `x` as NHWC: the value of node `name` (its shape is the pass's node's). */
  nhwc(x: Val, name: string, p = 0): string {
    if (!x.blocked) return x.v;
    const [h, w, c] = this.node(p, name).shape as [number, number, number];
    return this.layout(`n:${x.v}`, () =>
      c === this.block
        ? this.g.op('Reshape', [x.v, this.g.int64([0, h, w, c])])
        : this.g.opIn(NCHWC, 'ReorderOutput', [x.v], [int('channels', c), int('channels_last', 1)]),
    );
  }

  private layout(key: string, make: () => string): string {
    let v = this.layouts.get(key);
    if (!v) this.layouts.set(key, (v = make()));
    return v;
  }
}
