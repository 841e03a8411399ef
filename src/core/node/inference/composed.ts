// A composed evaluation's module passes as one onnxruntime graph (inference/passes.ts): each
// module's masks folded into its weights (graph/fold.ts), the passes in an order that puts
// modules with long shared prefixes side by side, at most COMPOSED_PASSES to a graph (each
// graph is a compile of its own and holds its passes' weights), every value the passes of one
// graph share computed once.
import type { FoldedMasks } from '../graph/fold.ts';
import { convertPasses, type ConvertOptions } from './convert.ts';
import { PassKeys, type ModelPass } from './passes.ts';

/** Module passes per graph. */
export const COMPOSED_PASSES = 10;

export interface ComposedGraph {
  /** Indices (into the mask sets) of this graph's passes; output j is passes[j]'s features. */
  passes: number[];
  bytes: Uint8Array;
  /** The share of node computations another pass of the graph spares (PassKeys.shared). */
  shared: number;
}

/** Folded module passes ordered by shared prefix and cut into graphs (see above). */
export function composedGraphs(
  folded: readonly FoldedMasks[],
  opts: Pick<ConvertOptions, 'preprocess' | 'nchwcBlock'>,
): ComposedGraph[] {
  const passes: ModelPass[] = folded.map((f) => ({ plan: f.plan, masks: f.masks }));
  const plan = passes[0]!.plan;
  const keys = new PassKeys(passes);
  const names = plan.nodes.map((n) => n.name);
  // Lexicographic by the values in the plan's order: passes that share a prefix end up adjacent.
  const order = passes
    .map((_, j) => j)
    .sort((a, b) => {
      for (const n of names) {
        const d = keys.post[a]!.get(n)! - keys.post[b]!.get(n)!;
        if (d) return d;
      }
      return a - b;
    });
  const graphs: ComposedGraph[] = [];
  for (let at = 0; at < order.length; at += COMPOSED_PASSES) {
    const chunk = order.slice(at, at + COMPOSED_PASSES);
    const { bytes, shared } = convertPasses(
      chunk.map((j) => passes[j]!),
      opts,
    );
    graphs.push({ passes: chunk, bytes, shared });
  }
  return graphs;
}
