// Several passes over one model in one graph (a composed evaluation's modules), and which of
// their values are the same computation. A pass is the model's plan with its own weights (a
// module's folded plan: graph/fold.ts) and its own masks; the value of a node is the same in
// two passes when the node's weights and mask are, and so are its inputs' values, all the way
// back to the image: a trie of the passes' prefixes, each shared value computed once.
import { createHash } from 'node:crypto';
import type { ModelPlan, PlanNode } from '../graph/plan.ts';

/** A mask multiplied in: a constant (a folded module's position-varying mask) or a graph input. */
export type PassMask = Float32Array | 'input';

export interface ModelPass {
  /** The pass's weights: the model's plan, or a folded one (the same nodes, by name, in the same order). */
  plan: ModelPlan;
  /** Masks by Conv2D/Dense layer, applied where plan.maskAt says; layers without one are unmasked. */
  masks: ReadonlyMap<string, PassMask>;
}

export interface PassKeys {
  /** Per pass, per node: the id of the computation that gives its value (equal ids, one value). */
  keys: Map<string, number>[];
  /** Per node, its readers (in the plan's order). */
  readers: Map<string, PlanNode[]>;
  /** Distinct computations, and node passes in all (the work sharing spares: 1 - distinct / total). */
  distinct: number;
  total: number;
}

/** The graph input of a layer's mask. */
export const maskInput = (layer: string) => `mask/${layer}`;

const WEIGHTS = ['kernel', 'bias', 'gamma', 'beta', 'mean', 'variance'] as const;

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

/** The computation ids of every node of every pass (see above). */
export function passKeys(passes: readonly ModelPass[]): PassKeys {
  const model = passes[0]!.plan;
  const readers = new Map<string, PlanNode[]>();
  for (const n of model.nodes) for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n]);
  const maskedAt = new Map(Object.entries(model.maskAt).map(([layer, at]) => [at, layer]));
  const digests = new Digests();
  const ids = new Map<string, number>();
  const keys = passes.map((p) => {
    if (p.plan.nodes.length !== model.nodes.length)
      throw new Error('every pass must have the model’s layers');
    const k = new Map<string, number>();
    p.plan.nodes.forEach((n, at) => {
      if (n.name !== model.nodes[at]!.name)
        throw new Error(`pass layer ${n.name} is not ${model.nodes[at]!.name}`);
      const layer = maskedAt.get(n.name);
      const m = layer !== undefined ? p.masks.get(layer) : undefined;
      const mask = m === undefined ? '' : m === 'input' ? 'input' : digests.of(m);
      const text = `${n.name}|${digests.node(n)}|${mask}|${n.inputs.map((i) => k.get(i)).join(',')}`;
      let id = ids.get(text);
      if (id === undefined) ids.set(text, (id = ids.size));
      k.set(n.name, id);
    });
    return k;
  });
  return { keys, readers, distinct: ids.size, total: passes.length * model.nodes.length };
}

/**
 * Whether `name`'s value can be computed inside its one reader's (fused): nothing else reads
 * it, and no two passes that share its value go on to different values of the reader (fusing
 * would then compute it twice). `kept`: values that are outputs.
 */
export function fusable(k: PassKeys, name: string, kept: ReadonlySet<string>): PlanNode | null {
  const r = k.readers.get(name);
  if (!r || r.length !== 1 || kept.has(name)) return null;
  const next = new Map<number, number>();
  for (const keys of k.keys) {
    const a = keys.get(name)!;
    const b = keys.get(r[0]!.name)!;
    if ((next.get(a) ?? b) !== b) return null;
    next.set(a, b);
  }
  return r[0]!;
}
