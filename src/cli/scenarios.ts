// Reuse and replace rows as the CLI prints them (Tables 2-5, Figure 6), and the one idle
// measurement a series of runs shares.
import type { IdlePowers } from '../core/node/energy/formula.ts';
import { idlePowers } from '../core/node/measure/measured.ts';
import { addCosts, co2eRatio, type Cost } from '../core/node/workflows/costs.ts';
import type { ScenarioRow } from '../core/node/workflows/grid.ts';
import type { Settings } from '../core/node/store/settings.ts';
import path from 'node:path';
import { figure6Scenarios, figure6Svg, scenarioWarning } from '../core/common/figure6.ts';
import { writeFileAtomic } from '../core/node/fs/atomic.ts';
import { scenarioView } from '../core/node/views.ts';
import { fmtPct, formatTable, info, print } from './output.ts';

/** A replace row's label and the class whose module now stands for it ("3: textures 32x32:stripes"). */
function replaced(r: ScenarioRow): string {
  const x = Number(/:(\d+)/.exec(r.key)?.[1]);
  return Number.isInteger(x) && r.classes[x] ? `${x}: ${r.classes[x]}` : r.key;
}

/** Each row's warning (null: none), the same as the app's table and chart give (common/figure6.ts). */
export function rowWarnings(rows: ScenarioRow[]): (string | null)[] {
  return figure6Scenarios(rows.map(scenarioView)).map(scenarioWarning);
}

/** Reuse and replace rows as result tables (class names whole), with their warnings. */
export function printRows(rows: ScenarioRow[]): void {
  const pct = (x: number | undefined) => (x === undefined ? '' : fmtPct(x));
  const ratio = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)}x`);
  const warnings = rowWarnings(rows);
  const warning = new Map(rows.map((r, i) => [r, warnings[i]!]));
  // The ratios as every view gives them (a row stored by an older version judged by today's rule).
  const views = new Map(rows.map((r) => [r, scenarioView(r)]));
  const best = (r: ScenarioRow) => ratio(views.get(r)!.co2eRatioBest);
  const fixed = (r: ScenarioRow) => ratio(views.get(r)!.co2eRatioFixed);
  const mark = (r: ScenarioRow) => (warning.get(r) ? '!' : '');
  const reuse = rows.filter((r) => r.scenario === 'reuse');
  const replace = rows.filter((r) => r.scenario === 'replace');
  if (reuse.length) {
    print(
      '\nReuse (Tables 2 and 3): MA composed modules, MMA after continuous learning, TMA trained from scratch',
    );
    print(
      formatTable(
        ['kind', 'classes', 'MA', 'MMA', 'TMA', 'CO2e x best', 'x fixed', ''],
        reuse.map((r) => [
          r.kind,
          r.classes.join(' + '),
          pct(r.ma),
          pct(r.mma),
          pct(r.tma),
          best(r),
          fixed(r),
          mark(r),
        ]),
        [2, 3, 4, 5, 6],
      ),
    );
  }
  if (replace.length) {
    print('\nReplace (Tables 4 and 5): composed modules after the replacement vs the trained model');
    print(
      formatTable(
        [
          'kind',
          'label: replaced by',
          'top-1',
          'top-5',
          'model-1',
          'model-5',
          'TMA',
          'CO2e x best',
          'x fixed',
          '',
        ],
        replace.map((r) => [
          r.kind,
          replaced(r),
          pct(r.top1),
          pct(r.top5),
          pct(r.model_top1),
          pct(r.model_top5),
          pct(r.tma),
          best(r),
          fixed(r),
          mark(r),
        ]),
        [2, 3, 4, 5, 6, 7, 8],
      ),
    );
  }
  if (rows.length)
    print(
      'CO2e x best: training from scratch until its best validation epoch over reusing; x fixed: every epoch it trained.',
    );
  for (const r of rows) {
    const w = warning.get(r);
    if (w)
      print(
        `! ${r.scenario} (${r.kind}) ${r.scenario === 'replace' ? replaced(r) : r.classes.join(' + ')}: ${w}`,
      );
  }
}

/** Writes Figure 6 of the rows as an SVG file (the app draws the same chart). */
export async function writeChart(file: string, rows: ScenarioRow[], title: string): Promise<void> {
  await writeFileAtomic(path.resolve(file), figure6Svg(figure6Scenarios(rows.map(scenarioView)), { title }));
}

/** Figure 6: total CO2e of each side over the grid; a side below its noise floor gives no ratio. */
export function figure6(rows: ScenarioRow[]) {
  const reuse = addCosts(...rows.flatMap((r) => [r.cost.build, r.cost.predict]));
  // One decomposition per model: the largest of the rows' (a grid decomposes each model once).
  const oneTime = rows
    .map((r) => r.cost.decomposition)
    .reduce<Cost | null>((a, c) => (a && a.co2e_lbs >= c.co2e_lbs ? a : c), null);
  const fixed = addCosts(...rows.flatMap((r) => [r.cost.baseline_fixed, r.cost.baseline_predict]));
  const best = addCosts(...rows.flatMap((r) => [r.cost.baseline_best, r.cost.baseline_predict]));
  const withDecomposition = oneTime ? addCosts(reuse, oneTime) : reuse;
  return {
    reuse_co2e_lbs: reuse.co2e_lbs,
    decomposition_co2e_lbs: oneTime?.co2e_lbs ?? 0,
    baseline_fixed_co2e_lbs: fixed.co2e_lbs,
    baseline_best_co2e_lbs: best.co2e_lbs,
    co2e_ratio_fixed: co2eRatio(fixed, reuse),
    co2e_ratio_best: co2eRatio(best, reuse),
    co2e_ratio_fixed_with_decomposition: co2eRatio(fixed, withDecomposition),
    co2e_ratio_best_with_decomposition: co2eRatio(best, withDecomposition),
    estimated: rows.some((r) => r.cost.build.source === 'estimate'),
    attribution: reuse.attribution ?? 'machine',
  };
}

/** Idle power measured once for a whole series of runs. */
export function measureGridIdle(settings: Settings): Promise<IdlePowers> {
  return idlePowers(settings, info);
}
