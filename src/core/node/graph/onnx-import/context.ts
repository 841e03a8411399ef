// What one operator's rule sees while the importer translates a node: its inputs as values,
// its attributes, and the plan it adds layers to. A rule that cannot translate its node
// refuses it (Refusal), with a reason the import's message lists beside every other.
import type { PlanNodeSpec } from '../../models/schema.ts';
import type { OnnxAttr, OnnxNode, Tensor } from './model.ts';
import { describe, type FlatValue, type ImageValue, type Value } from './values.ts';

/** A node the importer cannot translate, and why. */
export class Refusal extends Error {}

export type WeightKind = 'kernel' | 'bias' | 'gamma' | 'beta' | 'moving_mean' | 'moving_variance';
export type Weights = Partial<Record<WeightKind, { shape: number[]; data: Float32Array }>>;

/** A plan layer as a rule adds it: its spec (no name yet) and weights. */
export type LayerSpec = Omit<PlanNodeSpec, 'name'>;

export interface ImportContext {
  readonly node: OnnxNode;
  /** The file's operator set (the default domain's). */
  readonly opset: number;
  /** The input's batch size where the file fixes it, else null. */
  readonly batch: number | null;
  /** Input i as a value; null where it is left out ('' or beyond the inputs). */
  input(i: number): Value | null;
  /** Input i as a constant; refuses where it is computed. */
  constant(i: number, what: string): Tensor;
  /** Input i as an image the file sees as [N, C, H, W] (a pending zero pad is added first). */
  image(i: number): ImageValue;
  /** Input i as a flat vector. */
  flat(i: number): FlatValue;
  attr(name: string): OnnxAttr | undefined;
  int(name: string, fallback: number): number;
  ints(name: string, fallback: number[]): number[];
  float(name: string, fallback: number): number;
  str(name: string, fallback: string): string;
  /** Adds a plan layer; returns its name. */
  emit(layer: LayerSpec, weights?: Weights): string;
  /** A layer added before (a rule may complete it: a MatMul's bias from the Add after it). */
  layer(name: string): { spec: PlanNodeSpec; weights: Weights } | undefined;
  /** How many nodes read output `i` (the graph's output counts as one). */
  uses(i?: number): number;
  /** Whether output `i` is the graph's output. */
  isOutput(i?: number): boolean;
  refuse(why: string): never;
  warn(message: string): void;
}

export interface OpRule {
  /** The ONNX operator types this rule translates. */
  ops: readonly string[];
  /** The operator set versions it covers (where the operator's form changed). */
  since?: number;
  until?: number;
  /** The node's output values, in order (a rule may give fewer: the rest are unused). */
  translate(ctx: ImportContext): Value[];
}

/** Checks a value is an image the file sees NCHW, or refuses. */
export function needImage(ctx: ImportContext, v: Value | null, what = 'its input'): ImageValue {
  if (v?.kind === 'image' && v.layout === 'nchw') return v;
  if (v?.kind === 'image')
    ctx.refuse(
      `${what} is an image in NHWC order (a ${ctx.node.opType} reads NCHW): only a Transpose to NCHW may follow an NHWC input`,
    );
  ctx.refuse(`${what} is ${v ? describe(v) : 'missing'}, not an image`);
}

/** An attribute's value or the fallback: what ONNX's defaults say where the file leaves one out. */
export function attrReader(node: OnnxNode, refuse: (why: string) => never) {
  const get = (name: string) => node.attrs.get(name);
  return {
    attr: get,
    int: (name: string, fallback: number) => get(name)?.i ?? fallback,
    ints: (name: string, fallback: number[]) => get(name)?.ints ?? fallback,
    float: (name: string, fallback: number) => get(name)?.f ?? fallback,
    str: (name: string, fallback: string) => {
      const a = get(name);
      if (a && a.s === undefined) refuse(`attribute ${name} is not a string`);
      return a?.s ?? fallback;
    },
  };
}
