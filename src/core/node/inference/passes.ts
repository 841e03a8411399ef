// Several passes over one model in one graph (a composed evaluation's modules), and which of
// their values are the same computation. A pass is the model's plan with its own weights (a
// module's folded plan: graph/fold.ts) and its own masks. A node's value before its mask is
// the same in two passes when its weights are and its inputs' values are; after the mask, when
// the mask is too: all the way back to the image, a trie of the passes' prefixes, each shared
// value computed once (a convolution two modules give the same input is computed once, and
// each applies its own mask to it).
import { createHash } from 'node:crypto';
import type { WeightKind } from '../graph/layers/index.ts';
import type { ModelPlan, PlanNode } from '../graph/plan.ts';

/** A mask multiplied in: a constant (a folded module's position-varying mask) or a graph input. */
export type PassMask = Float32Array | 'input';

export interface ModelPass {
  /** The pass's weights: the model's plan, or a folded one (the same nodes, by name, in the same order). */
  plan: ModelPlan;
  /** Masks by Conv2D/Dense layer, applied where plan.maskAt says; layers without one are unmasked. */
  masks: ReadonlyMap<string, PassMask>;
}

/** The graph input of a layer's mask. */
export const maskInput = (layer: string) => `mask/${layer}`;

/** A layer's weights (tfjs's names) as the plan node's fields. */
export const WEIGHT_FIELDS = {
  kernel: 'kernel',
  bias: 'bias',
  gamma: 'gamma',
  beta: 'beta',
  moving_mean: 'mean',
  moving_variance: 'variance',
} as const satisfies Record<WeightKind, keyof PlanNode>;

const WEIGHTS = Object.values(WEIGHT_FIELDS);

/** Content digests, each array hashed once. */
class Digests {
  private readonly seen = new WeakMap<object, string>();
  of(x: Float32Array): string {
    let d = this.seen.get(x);
    if (!d) {
      d = createHash('sha1')
        .update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength))
        .digest('hex');
      this.seen.set(x, d);
    }
    return d;
  }
  /** A node's weights: equal for a folded node whose scales equal another module's. */
  node(n: PlanNode): string {
    let d = this.seen.get(n);
    if (!d) {
      d = WEIGHTS.map((k) => (n[k] ? this.of(n[k]) : '')).join(':');
      this.seen.set(n, d);
    }
    return d;
  }
}

/** The computation ids of every node of every pass (see above); equal ids, one value. */
export class PassKeys {
  /** Per pass, per node: its value before its mask (the node's own computation). */
  readonly pre: Map<string, number>[];
  /** Per pass, per node: its value after its mask (what its readers read). */
  readonly post: Map<string, number>[];
  /** Per node, its readers (in the plan's order). */
  readonly readers = new Map<string, PlanNode[]>();
  private readonly ids = new Map<string, number>();
  private readonly fused = new Map<string, PlanNode | null>();
  private readonly digests = new Digests();
  private readonly passes: readonly ModelPass[];

  constructor(passes: readonly ModelPass[]) {
    this.passes = passes;
    const model = passes[0]!.plan;
    for (const n of model.nodes)
      for (const i of n.inputs) this.readers.set(i, [...(this.readers.get(i) ?? []), n]);
    const maskedAt = new Map(Object.entries(model.maskAt).map(([layer, at]) => [at, layer]));
    this.pre = passes.map(() => new Map());
    this.post = passes.map(() => new Map());
    passes.forEach((p, j) => {
      if (p.plan.nodes.length !== model.nodes.length)
        throw new Error('every pass must have the model’s layers');
      p.plan.nodes.forEach((n, at) => {
        if (n.name !== model.nodes[at]!.name)
          throw new Error(`pass layer ${n.name} is not ${model.nodes[at]!.name}`);
        const pre = this.id(
          `${n.name}|${this.digests.node(n)}|${n.inputs.map((i) => this.post[j]!.get(i)).join(',')}`,
        );
        const layer = maskedAt.get(n.name);
        const m = layer !== undefined ? p.masks.get(layer) : undefined;
        const mask = m === undefined ? null : m === 'input' ? 'input' : this.digests.of(m);
        this.pre[j]!.set(n.name, pre);
        this.post[j]!.set(n.name, mask === null ? pre : this.id(`${pre}|${mask}`));
      });
    });
  }

  /** The id of a computation described by `text`. */
  id(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) this.ids.set(text, (id = this.ids.size));
    return id;
  }

  /** The share of the passes' node computations that another pass's spares (0: nothing shared). */
  shared(): number {
    const distinct = new Set(this.pre.flatMap((m) => [...m.values()])).size;
    const total = this.pre.reduce((a, m) => a + m.size, 0);
    return total ? 1 - distinct / total : 0;
  }

  /**
   * The one reader of `name` when `name`'s value can be computed inside the reader's kernel
   * call (fused): nothing else reads it, it is not an output (`kept`), and no two passes that
   * share its computation go on to different weights or other inputs in the reader (fusing
   * would then compute it twice).
   */
  fusable(name: string, kept: ReadonlySet<string>): PlanNode | null {
    if (kept.has(name)) return null;
    if (!this.fused.has(name)) this.fused.set(name, this.fusedInto(name));
    return this.fused.get(name)!;
  }

  private fusedInto(name: string): PlanNode | null {
    const r = this.readers.get(name);
    if (!r || r.length !== 1) return null;
    const reader = r[0]!;
    const at = this.passes[0]!.plan.nodes.findIndex((x) => x.name === reader.name);
    const next = new Map<number, string>();
    for (let j = 0; j < this.passes.length; j++) {
      const n = this.passes[j]!.plan.nodes[at]!;
      const others = reader.inputs.filter((i) => i !== name).map((i) => this.post[j]!.get(i));
      const sig = `${this.digests.node(n)}|${others.join(',')}`;
      const a = this.pre[j]!.get(name)!;
      if ((next.get(a) ?? sig) !== sig) return null;
      next.set(a, sig);
    }
    return reader;
  }
}
