// decomposer experiment reuse|replace: the paper's Tables 2-5 and Figure 6 on the user's
// models and data; every row saved in the store, interrupted grids resume.
import path from 'node:path';
import { intOption } from '../main.ts';
import { fmtPct, info, interruptSignal, printJson } from '../output.ts';
import { decomposeSettings, modelDataset, openModel } from './decompose.ts';
import { dbFile } from './energy.ts';
import { engineSettings } from './train.ts';
import { UserError } from '../../core/common/errors.ts';
import { APPROACHES, parseApproach } from '../../core/node/decompose/index.ts';
import { idlePowers } from '../../core/node/measure/measured.ts';
import type { IdlePowers } from '../../core/node/energy/formula.ts';
import { runGrid, type GridSpec, type ScenarioRow } from '../../core/node/reuse/grid.ts';
import { Store } from '../../core/node/store/store.ts';
import { effectiveSettings, type Settings } from '../../core/node/store/settings.ts';

type Values = Record<string, string | boolean | undefined>;

export const GRID_OPTIONS = {
  model2: { type: 'string' },
  dataset2: { type: 'string' },
  scope: { type: 'string' },
  pick: { type: 'string' },
  pairs: { type: 'string' },
  classes: { type: 'string' },
  approach: { type: 'string' },
  'baseline-epochs': { type: 'string' },
  'baseline-depth': { type: 'string' },
  batch: { type: 'string' },
  out: { type: 'string', short: 'o' },
} as const;

export const GRID_USAGE = `Reuse and replace (Tables 2-5, Figure 6):
  decomposer experiment reuse --model A [--dataset NAME] [--model2 B --dataset2 NAME] [options]
  decomposer experiment replace --model A --model2 B [options]

  --model2 DIR        the second model: another dataset (inter) or, for intra replace, the
                      same dataset (a better-trained model, or another depth)
  --dataset2 NAME     its dataset (default: the model's own)
  --scope S           intra, inter or intra,inter (default: intra, plus inter with --model2)
  --pick N            intra reuse: classes picked at random, composed pairwise (default 4: 6 pairs)
  --pairs N           inter reuse pairs / inter replace scenarios (default 6 / 3)
  --classes LIST      intra replace: the classes whose module is replaced (default: all)
  --approach A        ${APPROACHES.join(' | ')} (default CI+TI+MC-BLN)
  --baseline-epochs N epochs of each train-from-scratch baseline (default 10)
  --baseline-depth N  its ResNet depth (default: model A's)
  --batch N           its batch size (default 32)
  -o, --out DIR       where baselines train (default <home>/experiments)
  --backend, --workers  the baselines' training engine`;

export function printRows(rows: ScenarioRow[]): void {
  const pct = (x: number | undefined) => (x === undefined ? '' : fmtPct(x)).padStart(7);
  const ratio = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)}x`).padStart(8);
  const reuse = rows.filter((r) => r.scenario === 'reuse');
  const replace = rows.filter((r) => r.scenario === 'replace');
  if (reuse.length) {
    process.stdout.write(
      '\nReuse (Tables 2 and 3): MA composed modules, MMA after continuous learning, TMA trained from scratch\n',
    );
    process.stdout.write(
      `${'kind'.padEnd(6)} ${'classes'.padEnd(44)}      MA     MMA     TMA  CO2e x fixed  x best\n`,
    );
    for (const r of reuse)
      process.stdout.write(
        `${r.kind.padEnd(6)} ${r.classes.join(' + ').slice(0, 44).padEnd(44)} ${pct(r.ma)} ${pct(r.mma)} ${pct(r.tma)}  ${ratio(r.co2e_ratio_fixed)}    ${ratio(r.co2e_ratio_best)}\n`,
      );
  }
  if (replace.length) {
    process.stdout.write(
      '\nReplace (Tables 4 and 5): composed modules after the replacement vs the trained model\n',
    );
    process.stdout.write(
      `${'kind'.padEnd(6)} ${'replaced'.padEnd(30)}   top-1   top-5  model-1 model-5     TMA  CO2e x fixed  x best\n`,
    );
    for (const r of replace) {
      const key = r.key.split(':')[1] ?? '';
      process.stdout.write(
        `${r.kind.padEnd(6)} ${key.padEnd(30)} ${pct(r.top1)} ${pct(r.top5)} ${pct(r.model_top1)} ${pct(r.model_top5)} ${pct(r.tma)}  ${ratio(r.co2e_ratio_fixed)}    ${ratio(r.co2e_ratio_best)}\n`,
      );
    }
  }
}

/** Figure 6: total CO2e of each side over the grid. */
export function figure6(rows: ScenarioRow[]) {
  const sum = (f: (r: ScenarioRow) => number) => rows.reduce((s, r) => s + f(r), 0);
  const reuse = sum((r) => r.cost.build.co2e_lbs + r.cost.predict.co2e_lbs);
  const decomposition = new Map(rows.map((r) => [r.classes.join('|'), r.cost.decomposition.co2e_lbs]));
  const fixed = sum((r) => r.cost.baseline_fixed.co2e_lbs + r.cost.baseline_predict.co2e_lbs);
  const best = sum((r) => r.cost.baseline_best.co2e_lbs + r.cost.baseline_predict.co2e_lbs);
  const oneTime = Math.max(0, ...decomposition.values());
  const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
  return {
    reuse_co2e_lbs: reuse,
    decomposition_co2e_lbs: oneTime,
    baseline_fixed_co2e_lbs: fixed,
    baseline_best_co2e_lbs: best,
    co2e_ratio_fixed: ratio(fixed, reuse),
    co2e_ratio_best: ratio(best, reuse),
    co2e_ratio_fixed_with_decomposition: ratio(fixed, reuse + oneTime),
    co2e_ratio_best_with_decomposition: ratio(best, reuse + oneTime),
    estimated: rows.some((r) => r.cost.build.source === 'estimate'),
  };
}

/** Idle power measured once for a whole series of runs. */
export function measureGridIdle(settings: Settings, quiet: boolean): Promise<IdlePowers> {
  return idlePowers(settings, (l) => (quiet && !l.startsWith('warning') ? undefined : info(l)));
}

export async function gridCommand(kind: 'reuse' | 'replace', v: Values): Promise<number> {
  const json = Boolean(v.json);
  const eng = engineSettings(v);
  const d = decomposeSettings(v);
  const a = await openModel(v);
  const models = [{ dir: a.dir, data: await modelDataset(v, a, json), depth: a.meta?.depth ?? 20 }];
  await a.engine.close();
  if (v.model2) {
    const b = await openModel({ ...v, model: v.model2, dataset: v.dataset2 });
    models.push({
      dir: b.dir,
      data: await modelDataset({ ...v, dataset: v.dataset2 }, b, json),
      depth: b.meta?.depth ?? 20,
    });
    await b.engine.close();
  }
  const scopes = ((v.scope as string | undefined) ?? (models.length > 1 ? 'intra,inter' : 'intra'))
    .split(',')
    .map((s) => s.trim());
  for (const s of scopes)
    if (s !== 'intra' && s !== 'inter')
      throw new UserError(`Unknown scope "${s}".`, 'Use intra, inter or intra,inter.', 'usage');
  const spec: GridSpec = {
    kind,
    scopes: scopes as ('intra' | 'inter')[],
    seed: d.seed ?? 1,
    pick: intOption(v, 'pick', 4, 2),
    pairs: intOption(v, 'pairs', kind === 'reuse' ? 6 : 3, 1),
    replaceClasses: v.classes
      ? String(v.classes)
          .split(',')
          .map((x) => Number(x))
      : undefined,
    approach: parseApproach((v.approach as string | undefined) ?? 'CI+TI+MC-BLN'),
    decompose: { perClass: d.perClass ?? 1000, point: d.point!, delta: d.delta!, rule: d.rule! },
    baseline: {
      epochs: intOption(v, 'baseline-epochs', 10, 1),
      depth: intOption(v, 'baseline-depth', models[0]!.depth, 8),
      batchSize: intOption(v, 'batch', 32, 1),
    },
    inference: ((v.inference as string | undefined) ?? 'auto') as GridSpec['inference'],
  };
  const store = Store.open(dbFile(v));
  try {
    const settings = effectiveSettings(store, {
      idleSeconds: v['idle-seconds'] === undefined ? undefined : intOption(v, 'idle-seconds', 10, 0),
    });
    const idle = await measureGridIdle(settings, json);
    const result = await runGrid(spec, models, {
      store,
      settings,
      idle,
      workDir: path.resolve((v.out as string | undefined) ?? path.join(eng.home, 'experiments')),
      workers: eng.workers,
      backend: eng.backend,
      signal: interruptSignal(),
      onInfo: (l) => (json ? undefined : info(l)),
      onRow: (r) => {
        if (!json) info(`  done: ${r.key}`);
      },
    });
    const summary = figure6(result.rows);
    if (json)
      printJson({ grid: result.id, kind, resumed: result.resumed, rows: result.rows, figure6: summary });
    else {
      printRows(result.rows);
      const r = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)}x`);
      process.stdout.write(
        `\nFigure 6: training from scratch emits ${r(summary.co2e_ratio_fixed)} (fixed epochs) / ${r(summary.co2e_ratio_best)} (until best) the CO2e of ${kind}; ` +
          `with the one-time decomposition ${r(summary.co2e_ratio_fixed_with_decomposition)} / ${r(summary.co2e_ratio_best_with_decomposition)}${summary.estimated ? ' (energy ESTIMATED: no power counter here)' : ''}.\n`,
      );
      info(
        `grid ${result.id}: ${result.rows.length} rows saved in ${store.file}${result.resumed ? ` (${result.resumed} resumed)` : ''}`,
      );
    }
    return 0;
  } finally {
    store.close();
  }
}
