// A small ONNX graph writer for the graphs emitted from a plan (inference and training): unique value names, typed constants, and
// the encoded ModelProto (through graph/onnx-proto.ts, as every graph we write).
import { AttrType, DataType, encodeGraph, ints, valueInfo, type Attr } from './onnx-proto.ts';

/** Slice's "to the end" bound when stepping backwards (INT64_MIN would not survive a float). */
export const BEFORE_START = -(2 ** 53);

export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly initializer: object[] = [];
  private readonly inputs: object[] = [];
  private readonly outputs: object[] = [];
  private readonly consts = new Map<string, string>();
  private readonly memo = new Map<string, unknown>();
  /** Prefix of the next nodes' names (layer and pass): what a profile groups by. */
  tag = '';
  /**
   * onnxruntime's NCHWc block size on this CPU (its blocked convolution kernels, used with
   * weights computed in the graph), or 0 to use plain Conv.
   */
  nchwcBlock = 0;
  /**
   * What a graph shares with its subgraphs (an If's branches): value names unique across all
   * of them, and the operator domains the model imports.
   */
  private readonly shared: { counter: number; domains: Set<string> };

  constructor(shared = { counter: 0, domains: new Set<string>() }) {
    this.shared = shared;
  }

  /**
   * Values made once per graph under `key` (by `make`, the first time): what every layer would
   * otherwise compute alike, such as quantities of the batch size. A branch's builder has its
   * own, so a value never leaves the scope that made it.
   */
  once<T>(key: string, make: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, make());
    return this.memo.get(key) as T;
  }

  /** Adds one node; returns its (first) output's name. `out` names it, else a fresh name. */
  op(type: string, ins: string[], attrs: Attr[] = [], out?: string): string {
    return this.opN(type, ins, 1, attrs, out ? [out] : undefined)[0]!;
  }

  /** A node with several outputs. */
  opN(
    type: string,
    ins: string[],
    count: number,
    attrs: Attr[] = [],
    outs?: string[],
    domain = '',
  ): string[] {
    const id = this.shared.counter++;
    const names = outs ?? Array.from({ length: count }, (_, k) => `t${id}_${type}${k ? `_${k}` : ''}`);
    this.nodes.push({
      opType: type,
      input: ins,
      output: names,
      name: `${this.tag}/${type}_${id}`,
      attribute: attrs,
      ...(domain ? { domain } : {}),
    });
    if (domain) this.shared.domains.add(domain);
    return names;
  }

  /**
   * An If on the one-element bool `cond`: `then` and `otherwise` build its branches (subgraphs
   * that read this graph's values by name) and return their `count` float outputs.
   */
  ifElse(
    cond: string,
    count: number,
    then: (g: GraphBuilder) => string[],
    otherwise: (g: GraphBuilder) => string[],
  ): string[] {
    const branch = (name: string, build: (g: GraphBuilder) => string[]): Attr => {
      const sub = new GraphBuilder(this.shared);
      sub.tag = this.tag;
      sub.nchwcBlock = this.nchwcBlock;
      const outs = build(sub);
      if (outs.length !== count) throw new Error(`${name}: ${outs.length} outputs, ${count} expected`);
      const g = {
        name,
        node: sub.nodes,
        initializer: sub.initializer,
        output: outs.map((o) => ({ name: o, type: { tensorType: { elemType: DataType.FLOAT } } })),
      };
      return { name, type: AttrType.GRAPH, g };
    };
    return this.opN('If', [cond], count, [branch('then_branch', then), branch('else_branch', otherwise)]);
  }

  /** A node of another operator domain (onnxruntime's contrib ops). */
  opIn(domain: string, type: string, ins: string[], attrs: Attr[] = []): string {
    return this.opN(type, ins, 1, attrs, undefined, domain)[0]!;
  }

  /**
   * Transpose of `x` (shape `dims`, null for the one axis known only at run time) with axes
   * that stay adjacent merged first: onnxruntime moves a [A, B, H*W] block far faster than
   * [A, B, H, W] (measured), and does not merge them itself.
   */
  transpose(x: string, dims: (number | null)[], perm: number[]): string {
    const runs: number[][] = [];
    for (const a of perm) {
      const last = runs[runs.length - 1];
      if (last && last[last.length - 1]! + 1 === a) last.push(a);
      else runs.push([a]);
    }
    if (runs.length === perm.length) return this.op('Transpose', [x], [ints('perm', perm)]);
    const size = (axes: number[]) =>
      axes.some((a) => dims[a] === null) ? -1 : axes.reduce((p, a) => p * dims[a]!, 1);
    const bySource = [...runs].sort((r, q) => r[0]! - q[0]!);
    const merged = this.op('Reshape', [x, this.int64(bySource.map(size))]);
    const t = this.op(
      'Transpose',
      [merged],
      [
        ints(
          'perm',
          runs.map((r) => bySource.indexOf(r)),
        ),
      ],
    );
    return this.op('Reshape', [t, this.int64(perm.map((a) => dims[a] ?? -1))]);
  }

  /** A float constant (deduplicated by value for small ones). */
  floats(dims: number[], data: Float32Array | number[]): string {
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    const key = f.length <= 16 ? `f:${dims.join(',')}:${Array.from(f).join(',')}` : null;
    const known = key ? this.consts.get(key) : undefined;
    if (known) return known;
    const name = `c${this.shared.counter++}`;
    this.initializer.push({
      name,
      dims,
      dataType: DataType.FLOAT,
      rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength),
    });
    if (key) this.consts.set(key, name);
    return name;
  }

  /**
   * A constant of another element type (uint8 masks, float32 weights), never deduplicated;
   * `name` names it in the file (a layer's weights, as a model viewer shows them).
   */
  constant(
    dims: number[],
    data: Uint8Array | Float32Array,
    dataType: number = DataType.FLOAT,
    name = `c${this.shared.counter++}`,
  ): string {
    this.initializer.push({
      name,
      dims,
      dataType,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  scalar(v: number): string {
    return this.floats([], [v]);
  }

  /** An int64 constant (shapes, axes, slice bounds). */
  int64(values: number[], dims: number[] = [values.length]): string {
    const key = `i:${dims.join(',')}:${values.join(',')}`;
    const known = this.consts.get(key);
    if (known) return known;
    const name = `c${this.shared.counter++}`;
    const b = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializer.push({
      name,
      dims,
      dataType: DataType.INT64,
      rawData: new Uint8Array(b.buffer),
    });
    this.consts.set(key, name);
    return name;
  }

  input(name: string, dims: (number | string)[], elemType: number = DataType.FLOAT): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares `value` a graph output named `name` (through an Identity when they differ). */
  output(name: string, value: string, dims: (number | string)[], elemType: number = DataType.FLOAT): void {
    if (value !== name) this.op('Identity', [value], [], name);
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** The ModelProto; `metadata` goes into its metadata_props (what a viewer shows of the model). */
  encode(name = 'train', metadata: Record<string, string> = {}): Uint8Array {
    return encodeGraph(
      {
        name,
        node: this.nodes,
        initializer: this.initializer,
        input: this.inputs,
        output: this.outputs,
      },
      this.shared.domains,
      metadata,
    );
  }
}
