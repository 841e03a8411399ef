// A saved repaired classifier as one ONNX model: what repairedScores computes, in a graph any
// ONNX runtime runs. Input "pixels" (uint8 [N, H, W, 3], each model's own preprocessing
// inside), output "scores" [N, classes] (argmax: the repaired prediction): ranking scores,
// not probabilities, the modules ranked by their log-odds (repairedScores says why). Each
// model it is made of is one plan of the graph (its weights apart, under p<part>/), with one
// masked pass per module it uses:
// - modules: each label's module's log-odds; a removed label scores -Infinity;
// - verify: the base model's probabilities, where its prediction is one of the pair's labels
//   the pair's labels re-scored 2 + their module's log-odds minus the pair's lowest (above
//   every probability).
import { UserError } from '../../common/errors.ts';
import { GraphBuilder } from '../graph/builder.ts';
import { int } from '../graph/onnx-proto.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { emitPlan, preprocessed, type PortableModule } from '../inference/convert.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import type { Preprocess } from '../models/io.ts';
import { REDECIDED_FLOOR, REMOVED_SCORE, type LabelSource, type RepairedRecipe } from './repaired.ts';

export const REPAIRED_SCORES = 'scores';

/** What the output means, for the file's metadata (a reader of the file has no other doc). */
export const REPAIRED_SCORES_DOC =
  'scores: float [N, classes], argmax is the prediction; ranking scores, not probabilities. ' +
  "modules: each class's module's log-odds (concerned minus unconcerned logit), a removed class -Infinity. " +
  "verify: the model's probabilities; where it predicts a class of the pair, the pair's classes score " +
  `${REDECIDED_FLOOR} + their module's log-odds minus the pair's lowest (above every probability).`;

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
  const logOdds = new Map<string, string>();
  let baseProbs: string | null = null;
  parts.forEach((p, i) => {
    const used = [...new Set(sources.filter((s) => s.part === i).map((s) => s.classIndex))];
    const plain = r.kind === 'verify' && r.verify!.base === i;
    if (!used.length && !plain) return;
    // The base pass's weights apart from the modules' (two calls, two sets of names).
    if (plain) baseProbs = emitPlan(g, p.plan, {}, inputs[i]!, `p${i}/base/`).probs;
    if (!used.length) return;
    const modules = used.map((classIndex) => moduleOf(parts, { part: i, classIndex }));
    const e = emitPlan(g, p.plan, { modules, logOdds: true }, inputs[i]!, `p${i}/`);
    used.forEach((c, k) => logOdds.set(`${i}:${c}`, e.logOdds[k]!));
  });
  const column = (s: LabelSource) => logOdds.get(`${s.part}:${s.classIndex}`)!;
  let scores: string;
  if (r.kind === 'modules') {
    const first = column(sources[0]!);
    const removed = g.op('Add', [g.op('Mul', [first, g.scalar(0)]), g.scalar(REMOVED_SCORE)]); // per image
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
    // hit: [N, 1], true where re-decided; each pair label's score replaces its probability there.
    const pair = r.verify!.pair.map((x) => column(x.source));
    const lowest = g.op('Min', pair);
    const classes = g.int64(
      Array.from({ length: n }, (_, c) => c),
      [1, n],
    );
    scores = probs;
    for (const [j, x] of r.verify!.pair.entries()) {
      const at = g.op('And', [hit!, g.op('Equal', [classes, g.int64([x.label], [1, 1])])]); // [N, n]
      const redecided = g.op('Add', [g.op('Sub', [pair[j]!, lowest]), g.scalar(REDECIDED_FLOOR)]);
      scores = g.op('Where', [at, redecided, scores]);
    }
  }
  g.output(REPAIRED_SCORES, scores, ['N', n]);
  return g.encode('repaired', metadata);
}
