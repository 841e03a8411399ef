// A plan's architecture with fresh weights: what a train-from-scratch baseline of an imported
// model starts from. PyTorch's default initialisation (Conv2d and Linear: Kaiming uniform with
// a = sqrt(5), which bounds weights and biases by 1/sqrt(fan in); BatchNorm: gamma 1, beta 0,
// moving statistics 0 and 1), the head resized to the classes it is trained on.
//
// A graph without normalisation (an exporter folded it, or it never had any) would start its
// residual sums with every branch adding to the signal, which then grows with depth: each
// residual branch's last convolution starts at zero instead, as our BN-free ResNets do, so the
// net starts as its shortcuts and trains.
import { Rng } from '../data/random.ts';
import type { PlanArtifacts } from '../models/io.ts';
import { headNode, planModel, type PlanNode } from './plan.ts';
import { planToSpec } from './plan-spec.ts';

export interface FreshPlan {
  artifacts: PlanArtifacts;
  /** Residual branches started at zero (their last layer's names): only without normalisation. */
  zeroed: string[];
}

/** Uniform in [-bound, bound), seeded. */
function uniform(rng: Rng, n: number, bound: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * bound);
}

/**
 * The longest path from the input to each node: at a residual sum, the branch is the deeper
 * input (the shortcut skips its layers).
 */
function depths(nodes: readonly PlanNode[]): Map<string, number> {
  const d = new Map<string, number>();
  for (const n of nodes) d.set(n.name, n.inputs.length ? Math.max(...n.inputs.map((i) => d.get(i)!)) + 1 : 0);
  return d;
}

/** The plan `artifacts` describe, seeded fresh (see above), with `classes` outputs. */
export function freshPlan(artifacts: PlanArtifacts, o: { classes: number; seed: number }): FreshPlan {
  const plan = planModel(artifacts);
  const head = headNode(plan);
  const rng = new Rng(o.seed);
  const normalised = plan.nodes.some((n) => n.op === 'bn');
  const nodes = plan.nodes.map((n): PlanNode => {
    if (n.op === 'conv' || n.op === 'dense') {
      const shape = [...n.kernelShape!];
      if (n === head) shape[1] = o.classes;
      const fanIn = shape.slice(0, -1).reduce((p, x) => p * x, 1);
      const size = shape.reduce((p, x) => p * x, 1);
      const bound = 1 / Math.sqrt(fanIn);
      const out = shape[shape.length - 1]!;
      return {
        ...n,
        kernel: uniform(rng, size, bound),
        kernelShape: shape,
        bias: n.bias ? uniform(rng, out, bound) : n.bias,
        ...(n === head ? { shape: [o.classes] } : {}),
      };
    }
    if (n.op === 'bn') {
      const c = n.mean!.length;
      return {
        ...n,
        gamma: n.gamma ? new Float32Array(c).fill(1) : n.gamma,
        beta: n.beta ? new Float32Array(c) : n.beta,
        mean: new Float32Array(c),
        variance: new Float32Array(c).fill(1),
      };
    }
    return n;
  });
  const zeroed: string[] = [];
  if (!normalised) {
    const d = depths(nodes);
    const fresh = new Map(nodes.map((n) => [n.name, n]));
    for (const add of nodes.filter((n) => n.op === 'add')) {
      const [branch, ...others] = [...add.inputs].sort((a, b) => d.get(b)! - d.get(a)!);
      const last = fresh.get(branch!)!;
      // A branch as deep as another input is no branch beside a shortcut: left as drawn.
      if (others.some((x) => d.get(x) === d.get(branch!)) || last.op !== 'conv') continue;
      last.kernel = new Float32Array(last.kernel!.length);
      if (last.bias) last.bias = new Float32Array(last.bias.length);
      zeroed.push(last.name);
    }
  }
  return { artifacts: planToSpec({ ...plan, nodes, classes: o.classes }), zeroed };
}
