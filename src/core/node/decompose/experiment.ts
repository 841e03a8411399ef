// The paper's Table 1 for one model: the model's top-1/top-5 on the test set, then for each
// approach the composed top-1/top-5 and the Jaccard index read two ways (module against
// model, ours; module against module, the predecessor's), with decomposition and
// evaluation times. All approaches come from one shared observation pass, and their
// composed evaluations share forward passes where the masks are equal (compose.ts).
import type { ImageSet } from '../../common/dataset.ts';
import type { Table1Row } from '../../common/decomposition.ts';
import type { InferenceEngine } from '../inference/types.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { topKAccuracy } from '../train/metrics.ts';
import { composedAccuracy, composedScores, meanJaccard, meanPairwiseJaccard } from './compose.ts';
import {
  APPROACHES,
  decompose,
  type Approach,
  type DecomposeOptions,
  type DecompositionPoint,
  type ModuleSet,
} from './decompose.ts';
import type { BlnRule } from './algorithms.ts';

export interface ApproachRow extends Table1Row {
  approach: Approach;
  /** Where activity was observed (several points give one row per point and approach). */
  point: DecompositionPoint;
  /** MC-BLN's head rule and threshold (several give one row per variant). */
  rule: BlnRule;
  delta: number;
}

export interface Table1 {
  model: { top1: number; top5: number; evalSeconds: number };
  rows: ApproachRow[];
  testImages: number;
  /** Composed-evaluation time over the time of n model evaluations of the test set (naive: 1). */
  composeRatio: number;
  moduleEvaluationsPerSecond: number;
  observeSeconds: number;
  sets: ModuleSet[];
}

export async function table1(
  engine: InferenceEngine,
  plan: ModelPlan,
  train: ImageSet,
  test: ImageSet,
  opts: DecomposeOptions & { exact?: boolean } = {},
): Promise<Table1> {
  const approaches = opts.approaches ?? [...APPROACHES];
  const t0 = performance.now();
  const probs = await engine.predict(test.images, test.count);
  const modelSeconds = (performance.now() - t0) / 1000;
  const n = plan.classes;
  const k5 = Math.min(5, n);
  const model = {
    top1: topKAccuracy(probs, test.labels, n, 1),
    top5: topKAccuracy(probs, test.labels, n, k5),
    evalSeconds: modelSeconds,
  };
  const sets = await decompose(engine, plan, train, { ...opts, approaches });
  // One composed evaluation over all approaches: equal masks share a pass.
  const c = await composedScores(
    sets.map((set) => ({ engine, set })),
    test.images,
    test.count,
    { exact: opts.exact },
  );
  const M = c.labels.length;
  const rows: ApproachRow[] = sets.map((set, a) => {
    const per = set.modules.length;
    const columns = (all: Float32Array) => {
      const out = new Float32Array(test.count * per);
      for (let i = 0; i < test.count; i++)
        for (let j = 0; j < per; j++) out[i * per + j] = all[i * M + a * per + j]!;
      return out;
    };
    const sub = {
      ...c,
      scores: columns(c.scores),
      margins: columns(c.margins),
      labels: c.labels.slice(a * per, (a + 1) * per),
    };
    return {
      approach: set.approach,
      point: set.point,
      rule: set.rule,
      delta: set.delta,
      top1: composedAccuracy(sub, test.labels, 1),
      top5: composedAccuracy(sub, test.labels, k5),
      ji: meanJaccard(set),
      jiModules: meanPairwiseJaccard(set),
      seconds: set.seconds.observe + set.seconds.build,
      evalSeconds: c.seconds / sets.length,
    };
  });
  return {
    model,
    rows,
    testImages: test.count,
    composeRatio: modelSeconds > 0 ? c.seconds / sets.length / (n * modelSeconds) : 0,
    moduleEvaluationsPerSecond: c.seconds > 0 ? c.moduleEvaluations / c.seconds : 0,
    observeSeconds: sets[0]?.seconds.observe ?? 0,
    sets,
  };
}

/** The two readings of the Jaccard index, as every Table 1 labels them. */
export const JI_LEGEND =
  'JI model: a module against its model, |kept| / |all| positions (mean over modules); ' +
  'JI modules: module against module, |K_i ∩ K_j| / |K_i ∪ K_j| of their kept positions (mean over pairs, as the predecessor computes it)';

/**
 * A row's name: its approach, plus its MC-BLN rule and δ when the table holds several
 * variants (CI+TI+MC uses neither).
 */
function rowNames(t: Table1): (r: ApproachRow) => string {
  const variants = new Set(
    t.rows.filter((r) => r.approach !== 'CI+TI+MC').map((r) => `${r.rule} ${r.delta}`),
  );
  return (r) =>
    variants.size > 1 && r.approach !== 'CI+TI+MC' ? `${r.approach} ${r.rule} δ ${r.delta}` : r.approach;
}

/** Table 1's rows as text; with several observation points, the points side by side. */
export function formatTable1(t: Table1, name: string): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const points = [...new Set(t.rows.map((r) => r.point))];
  const label = rowNames(t);
  const first = Math.max(22, name.length, ...t.rows.map((r) => label(r).length));
  if (points.length > 1) return formatPoints(t, name, points, label, first);
  const head = ['top-1', 'top-5', 'JI model', 'JI modules', 'decomp s', 'eval s'];
  const w = head.map((h) => Math.max(7, h.length));
  const row = (text: string, cells: string[]) =>
    [text.padEnd(first), ...cells.map((c, i) => c.padStart(w[i]!))].join(' ');
  const lines = [
    row('model / approach', head),
    row(name, [pct(t.model.top1), pct(t.model.top5), '', '', '', t.model.evalSeconds.toFixed(2)]),
    ...t.rows.map((r) =>
      row(label(r), [
        pct(r.top1),
        pct(r.top5),
        r.ji.toFixed(2),
        r.jiModules.toFixed(2),
        r.seconds.toFixed(2),
        r.evalSeconds.toFixed(2),
      ]),
    ),
    JI_LEGEND,
  ];
  return lines.join('\n');
}

/** One line per approach (and variant), one group of columns per observation point. */
function formatPoints(
  t: Table1,
  name: string,
  points: DecompositionPoint[],
  label: (r: ApproachRow) => string,
  first: number,
): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const cols = ['top-1', 'top-5', 'JI model', 'JI modules'];
  const group = (cells: string[]) => cells.map((c, i) => c.padStart(Math.max(7, cols[i]!.length))).join(' ');
  const width = group(cols).length;
  const names = [...new Set(t.rows.map(label))];
  const lines = [
    ['observation point'.padEnd(first), ...points.map((p) => p.padStart(width))].join(' | '),
    ['model / approach'.padEnd(first), ...points.map(() => group(cols))].join(' | '),
    [name.padEnd(first), ...points.map(() => group([pct(t.model.top1), pct(t.model.top5), '', '']))].join(
      ' | ',
    ),
    ...names.map((a) =>
      [
        a.padEnd(first),
        ...points.map((p) => {
          const r = t.rows.find((x) => label(x) === a && x.point === p);
          return group(
            r ? [pct(r.top1), pct(r.top5), r.ji.toFixed(2), r.jiModules.toFixed(2)] : ['', '', '', ''],
          );
        }),
      ].join(' | '),
    ),
    JI_LEGEND,
  ];
  return lines.join('\n');
}
