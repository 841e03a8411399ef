// A saved repaired classifier as one ONNX model: what repairedScores computes, in a graph any
// ONNX runtime runs. Input "pixels" (uint8 [N, H, W, 3], each model's own preprocessing
// inside), output "scores" [N, classes] (argmax: the repaired prediction). Each model it is
// made of is one plan of the graph (its weights apart, under p<part>/), with one masked pass
// per module it uses:
// - modules: each label's module probability; a removed label scores -1;
// - verify: the base model's probabilities, where its prediction is one of the pair's labels
//   the pair's labels re-scored 1 + their module's probability (above every probability).
import { UserError } from '../../common/errors.ts';
import { GraphBuilder } from '../graph/builder.ts';
import { int } from '../graph/onnx-proto.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { emitPlan, preprocessed, type PortableModule } from '../inference/convert.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import type { Preprocess } from '../models/io.ts';
import type { LabelSource, RepairedRecipe } from './repaired.ts';

export const REPAIRED_SCORES = 'scores';

export interface RepairedOnnxPart {
  plan: ModelPlan;
  preprocess: Preprocess;
  set: ModuleSet | null;
}

type Recipe = Pick<RepairedRecipe, 'kind' | 'classNames' | 'labels' | 'verify'>;

/** The module of `s` as exported (its masks and two-node head). */
function moduleOf(parts: RepairedOnnxPart[], s: LabelSource): PortableModule {
  const m = parts[s.part]?.set?.modules.find((x) => x.classIndex === s.classIndex);
  if (!m)
    throw new UserError(
      'The repaired classifier names a module it does not have.',
      'Save it again with the wizard.',
      'bad-modules',
    );
  return { removed: m.removed, head: m.head };
}

export function repairedOnnx(
  r: Recipe,
  parts: RepairedOnnxPart[],
  metadata: Record<string, string>,
): Uint8Array {
  const g = new GraphBuilder();
  const n = r.classNames.length;
  const inputs = parts.map((p, i) =>
    preprocessed(g, p.plan, { input: 'uint8', preprocess: p.preprocess }, i > 0),
  );
  // Each part's passes once: the modules the classifier uses (and the base model's, for verify).
  const sources =
    r.kind === 'modules' ? r.labels!.filter((s) => s !== null) : r.verify!.pair.map((x) => x.source);
  const prob = new Map<string, string>();
  let baseProbs: string | null = null;
  parts.forEach((p, i) => {
    const used = [...new Set(sources.filter((s) => s.part === i).map((s) => s.classIndex))];
    const plain = r.kind === 'verify' && r.verify!.base === i;
    if (!used.length && !plain) return;
    // The base pass's weights apart from the modules' (two calls, two sets of names).
    if (plain) baseProbs = emitPlan(g, p.plan, {}, inputs[i]!, `p${i}/base/`).probs;
    if (!used.length) return;
    const modules = used.map((classIndex) => moduleOf(parts, { part: i, classIndex }));
    const e = emitPlan(g, p.plan, { modules }, inputs[i]!, `p${i}/`);
    used.forEach((c, k) => prob.set(`${i}:${c}`, e.modules[k]!));
  });
  const column = (s: LabelSource) => prob.get(`${s.part}:${s.classIndex}`)!;
  let scores: string;
  if (r.kind === 'modules') {
    const first = column(sources[0]!);
    const removed = g.op('Sub', [g.op('Mul', [first, g.scalar(0)]), g.scalar(1)]); // -1 per image
    scores = g.op(
      'Concat',
      r.labels!.map((s) => (s ? column(s) : removed)),
      [int('axis', 1)],
    );
  } else {
    const probs = baseProbs!;
    const top = g.op('ArgMax', [probs], [int('axis', 1), int('keepdims', 1)]);
    const labels = r.verify!.pair.map((x) => x.label);
    let hit: string | null = null;
    for (const l of labels) {
      const eq = g.op('Equal', [top, g.int64([l], [1, 1])]);
      hit = hit ? g.op('Or', [hit, eq]) : eq;
    }
    const on = g.op('Cast', [hit!], [int('to', 1)]); // [N, 1]: 1 where re-decided
    scores = probs;
    for (const x of r.verify!.pair) {
      const onehot = new Float32Array(n);
      onehot[x.label] = 1;
      const current = g.op('Slice', [probs, g.int64([x.label]), g.int64([x.label + 1]), g.int64([1])]);
      const delta = g.op('Mul', [on, g.op('Sub', [g.op('Add', [column(x.source), g.scalar(1)]), current])]);
      scores = g.op('Add', [scores, g.op('Mul', [delta, g.floats([1, n], onehot)])]);
    }
  }
  g.output(REPAIRED_SCORES, scores, ['N', n]);
  return g.encode('repaired', metadata);
}
