// What the blocked-layout passes (blocked.ts) do to values besides computing layers: move them
// between the graph's NHWC layout and onnxruntime's blocked one (NCHWc), and multiply them by
// masks, laid out as the value is. A constant mask that changes few positions is written at
// those positions (ScatterElements, in place where onnxruntime can) instead of multiplying
// every value: a write costs far more per value than a multiplication streamed over the whole
// value, and far less in all when few values change.
//
// Reshapes keep the batch axis (0, not -1): onnxruntime then knows a value and its reshaped
// view are the same size, and writes a sparse mask in place instead of copying the value.
import type { GraphBuilder } from '../graph/builder.ts';
import { NCHWC } from '../graph/nchwc.ts';
import { DataType, int, ints } from '../graph/onnx-proto.ts';
import { maskInput, type PassMask } from './passes.ts';
import { blockedImage } from './reorder.ts';

/** A value: NHWC (or [N, units]), or blocked [N, C, H, W] (C a multiple of the block). */
export interface Val {
  v: string;
  blocked: boolean;
}

/** A mask's positions that are not 1, in a value's layout, and its values there. */
export interface Sparse {
  at: BigInt64Array;
  values: Float32Array;
  /** Every one of them 0 (the value is written, nothing read). */
  zeros: boolean;
}

/** A mask is written position by position where at most 1 in SPARSE of its values is not 1. */
const SPARSE = 16;

/** Whether a constant mask changes few enough values to be written at them (in any layout). */
export function fewChanged(m: Float32Array): boolean {
  let k = 0;
  for (let i = 0; i < m.length; i++) if (m[i] !== 1) k++;
  return k * SPARSE <= m.length;
}

export class Layouts {
  private readonly g: GraphBuilder;
  private readonly input: string;
  private readonly block: number;
  private readonly converted = new Map<string, string>();
  private readonly consts = new Map<object, string>();
  private readonly blockedMasks = new Map<object, string>();
  private readonly sparseOf = [new Map<object, Sparse | null>(), new Map<object, Sparse | null>()];
  private readonly inputs = new Map<string, { nhwc: string; blocked?: string }>();
  /** The batch size ([1]), where a mask is written position by position. */
  private batch: string | null = null;

  /** `input`: any value with the batch axis first (the batch size is read from it). */
  constructor(g: GraphBuilder, input: string, block: number) {
    this.g = g;
    this.input = input;
    this.block = block;
  }

  /** A weight or mask as a constant, one per array. */
  constant(data: Float32Array, dims: number[]): string {
    let c = this.consts.get(data);
    if (!c) this.consts.set(data, (c = this.g.constant(dims, data)));
    return c;
  }

  /** A layer's mask input (declared on first use), [H, W, C] or [units]. */
  inputMask(layer: string, shape: number[]): { nhwc: string; blocked?: string } {
    let m = this.inputs.get(layer);
    if (!m) this.inputs.set(layer, (m = { nhwc: this.g.input(maskInput(layer), shape) }));
    return m;
  }

  /** `y` times a mask, laid out as `y` is; `shape` is the value's ([H, W, C] or [units]). */
  masked(y: Val, layer: string, m: PassMask, shape: number[]): Val {
    const g = this.g;
    const few = m === 'input' ? null : this.sparse(m, shape, y.blocked);
    if (few) return { v: this.scattered(y.v, few, shape, y.blocked), blocked: y.blocked };
    let mask: string;
    if (m !== 'input') {
      let b = this.blockedMasks.get(m);
      if (y.blocked && !b) {
        const dims = [1, shape[2]!, shape[0]!, shape[1]!];
        this.blockedMasks.set(m, (b = g.constant(dims, blockedImage(m, shape, this.block))));
      }
      mask = y.blocked ? b! : this.constant(m, shape);
    } else {
      const input = this.inputMask(layer, shape);
      if (y.blocked) {
        const image = g.op('Reshape', [input.nhwc, g.int64([1, ...shape])]);
        input.blocked ??= this.blocked({ v: image, blocked: false }, shape);
      }
      mask = y.blocked ? input.blocked! : input.nhwc;
    }
    return { v: g.op('Mul', [y.v, mask]), blocked: y.blocked };
  }

  /** Where a constant mask is not 1 in a value's layout, when few enough to write (see above). */
  sparse(m: Float32Array, shape: number[], blocked: boolean): Sparse | null {
    const known = this.sparseOf[blocked ? 1 : 0]!;
    if (known.has(m)) return known.get(m)!;
    const laid = blocked ? blockedImage(m, shape, this.block) : m;
    const at: number[] = [];
    for (let i = 0; i < laid.length; i++) if (laid[i] !== 1) at.push(i);
    const few = fewChanged(m)
      ? {
          at: BigInt64Array.from(at, (i) => BigInt(i)),
          values: Float32Array.from(at, (i) => laid[i]!),
          zeros: at.every((i) => laid[i] === 0),
        }
      : null;
    known.set(m, few);
    return few;
  }

  /** A row per image of a constant [1, k] (the batch's rows of positions or values). */
  private perImage(row: string, k: number): string {
    const g = this.g;
    this.batch ??= g.op('Shape', [this.input], [int('start', 0), int('end', 1)]);
    return g.op('Expand', [row, g.op('Concat', [this.batch, g.int64([k])], [int('axis', 0)])]);
  }

  /** The positions of a sparse mask, one row per image ([N, k]), for GatherElements and ScatterElements. */
  rows(few: Sparse): string {
    const at = this.g.constant([1, few.at.length], new Uint8Array(few.at.buffer), DataType.INT64);
    return this.perImage(at, few.at.length);
  }

  /** A value's entries at `at` ([N, k]). */
  gathered(y: string, at: string, shape: number[]): string {
    return this.g.op('GatherElements', [this.flat(y, shape), at], [int('axis', 1)]);
  }

  /** A value as one row per image. */
  private flat(y: string, shape: number[]): string {
    return this.g.op('Reshape', [y, this.g.int64([0, shape.reduce((a, b) => a * b, 1)])]);
  }

  /** `y` with `values` ([N, k]) written at `at` (in place, where onnxruntime can). */
  written(y: string, at: string, values: string, shape: number[], blocked: boolean): string {
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
    const updates = few.zeros ? values : g.op('Mul', [this.gathered(y, at, shape), values]);
    return this.written(y, at, updates, shape, blocked);
  }

  /** `x` ([H, W, C]) blocked: with one block of channels NHWC is the blocked layout byte for byte. */
  blocked(x: Val, [h, w, c]: number[]): string {
    if (x.blocked) return x.v;
    return this.once(`b:${x.v}`, () =>
      c === this.block
        ? this.g.op('Reshape', [x.v, this.g.int64([0, c, h!, w!])])
        : this.g.opIn(NCHWC, 'ReorderInput', [x.v], [int('channels_last', 1)]),
    );
  }

  /** NHWC `x` channels first (a convolution with fewer input channels than a block reads it so). */
  nchw(x: Val): string {
    if (x.blocked) throw new Error('a blocked value has at least one block of channels');
    return this.once(`t:${x.v}`, () => this.g.op('Transpose', [x.v], [ints('perm', [0, 3, 1, 2])]));
  }

  /** `x` as NHWC, `shape` its [H, W, C] (flat values are NHWC already). */
  nhwc(x: Val, shape: number[]): string {
    if (!x.blocked) return x.v;
    const [h, w, c] = shape as [number, number, number];
    return this.once(`n:${x.v}`, () =>
      c === this.block
        ? this.g.op('Reshape', [x.v, this.g.int64([0, h, w, c])])
        : this.g.opIn(NCHWC, 'ReorderOutput', [x.v], [int('channels', c), int('channels_last', 1)]),
    );
  }

  private once(key: string, make: () => string): string {
    let v = this.converted.get(key);
    if (!v) this.converted.set(key, (v = make()));
    return v;
  }
}
