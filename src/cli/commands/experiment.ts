// decomposer experiment: the paper's Table 1 for one model (decomposition), and its Tables 2-5
// and Figure 6 on the user's models and data (reuse, replace): every row saved in the store,
// interrupted grids resume.
import path from 'node:path';
import type { Command, Values } from '../command.ts';
import {
  DECOMPOSE_OPTIONS,
  DECOMPOSE_USAGE,
  decomposeSettings,
  modelDataset,
  openModel,
  readModel,
  writeJson,
} from '../models.ts';
import { engineSettings, inferenceOption, numberOption, withMeasureContext } from '../options.ts';
import { EXIT, info, interruptSignal, print, printJson } from '../output.ts';
import { printEnergy } from '../training.ts';
import { figure6, measureGridIdle, printRows, writeChart } from '../scenarios.ts';
import {
  BATCH_SIZE,
  CLASS_INDEX,
  DEPTH,
  EPOCHS,
  GRID_PAIRS,
  GRID_PICK,
  PATIENCE,
  parseBounded,
} from '../../core/common/bounds.ts';
import { UserError } from '../../core/common/errors.ts';
import { didYouMean } from '../../core/common/suggest.ts';
import { APPROACHES, formatTable1, parseApproach } from '../../core/node/decompose/index.ts';
import { runGrid, type GridSpec } from '../../core/node/workflows/grid.ts';
import { recordedTable1, table1Json } from '../../core/node/workflows/decomposition.ts';

export const GRID_OPTIONS = {
  model2: { type: 'string' },
  dataset2: { type: 'string' },
  scope: { type: 'string' },
  pick: { type: 'string' },
  pairs: { type: 'string' },
  classes: { type: 'string' },
  approach: { type: 'string' },
  'baseline-epochs': { type: 'string' },
  'baseline-patience': { type: 'string' },
  chart: { type: 'string' },
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
  --baseline-epochs N the most epochs of each train-from-scratch baseline (default: the
                      baselineMaxEpochs setting, 30)
  --baseline-patience N  a baseline stops once validation accuracy has not improved for N
                      epochs after leaving chance level (default: the baselinePatience
                      setting, 3); one still improving at the maximum is flagged
  --chart FILE        also write Figure 6 (CO2e per scenario, log axis) as an SVG file
  --baseline-depth N  its ResNet depth (default: model A's)
  --batch N           its batch size (default 32)
  -o, --out DIR       where baselines train (default <home>/experiments)
  --backend, --workers  the baselines' training engine`;

export const experimentCommand: Command = {
  name: 'experiment',
  summary:
    "reproduce the paper's experiments: decomposition (Table 1), reuse and replace (Tables 2-5, Figure 6)",
  usage: `Usage: decomposer experiment decomposition --model DIR --dataset NAME [options]

Decomposes the model with CI+TI+MC, CI+TI+MC-BLN and CI+TI+MC-BLN+MC-BI from one shared
observation pass, composes each set on the test set, and prints Table 1's row: the
model's top-1/top-5, then per approach the composed top-1/top-5 and the Jaccard index
both ways (module vs model, module vs module), with decomposition and evaluation times.
--point all shows the three observation points side by side (relu and conv-skip-add
differ from conv only where a convolution feeds an Add). Saves the module sets next to the model,
the table as JSON next to them (experiment-<time>.json) and the run in the store.

${DECOMPOSE_USAGE}
  --no-save           do not save the module sets

${GRID_USAGE}`,
  options: { ...DECOMPOSE_OPTIONS, ...GRID_OPTIONS, 'no-save': { type: 'boolean', default: false } },
  async run(v, positionals) {
    const json = Boolean(v.json);
    if (positionals[0] === 'reuse' || positionals[0] === 'replace') return gridCommand(positionals[0], v);
    if (positionals[0] !== 'decomposition')
      throw new UserError(
        `Unknown experiment "${positionals[0] ?? ''}".${didYouMean(positionals[0] ?? '', ['decomposition', 'reuse', 'replace'])}`,
        'Use: decomposer experiment decomposition|reuse|replace --model DIR (see --help).',
        'usage',
      );
    if (v.approach !== undefined)
      throw new UserError(
        '--approach chooses the approach of a reuse or replace grid; Table 1 always shows every approach.',
        'Leave --approach out of experiment decomposition (its JSON has one row per approach).',
        'usage',
      );
    const settings = decomposeSettings(v, { allPoints: true });
    const inference = inferenceOption(v);
    const m = await readModel(v);
    const data = await modelDataset(v, m);
    const rec = await withMeasureContext(v, {}, (ctx) =>
      recordedTable1(ctx, { ...m, data }, { ...settings, save: !v['no-save'], inference }),
    );
    const { table: t, dirs } = rec.value;
    const out = { ...table1Json(t), modules_dirs: dirs, run_id: rec.runId, energy: rec.energy.energy };
    const file = path.join(
      m.dir,
      'modules',
      `experiment-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
    );
    await writeJson(file, out);
    for (const w of t.sets[0]?.warnings ?? []) info(`warning: ${w}`);
    if (json) printJson({ ...out, file });
    else {
      print(formatTable1(t, path.basename(path.resolve(m.dir))));
      print(
        `composed evaluation: ${t.moduleEvaluationsPerSecond.toFixed(0)} module evaluations/s, ${t.composeRatio.toFixed(2)}x the time of n model evaluations`,
      );
      print(`saved ${file}`);
      printEnergy(rec.runId, rec.energy);
    }
    return EXIT.ok;
  },
};

/** A list of class indices (--classes 0,3,7), each checked. */
function classList(v: Values): number[] | undefined {
  if (v.classes === undefined) return undefined;
  return String(v.classes)
    .split(',')
    .map((x) => {
      const n = parseBounded(x, CLASS_INDEX);
      if (n === null)
        throw new UserError(
          `--classes: "${x.trim()}" is not a class index.`,
          'Give class indices separated by commas, e.g. --classes 0,3,7.',
          'usage',
        );
      return n;
    });
}

async function gridCommand(kind: 'reuse' | 'replace', v: Values): Promise<number> {
  const json = Boolean(v.json);
  // Every option is checked before a model or dataset is read.
  const eng = engineSettings(v);
  const d = decomposeSettings(v);
  const scopesGiven =
    v.scope === undefined
      ? null
      : String(v.scope)
          .split(',')
          .map((s) => s.trim());
  for (const s of scopesGiven ?? [])
    if (s !== 'intra' && s !== 'inter')
      throw new UserError(`Unknown scope "${s}".`, 'Use intra, inter or intra,inter.', 'usage');
  const approach = parseApproach((v.approach as string | undefined) ?? 'CI+TI+MC-BLN');
  const pick = numberOption(v, 'pick', GRID_PICK, 4);
  const pairs = numberOption(v, 'pairs', GRID_PAIRS, kind === 'reuse' ? 6 : 3);
  const replaceClasses = classList(v);
  const baselineEpochs = numberOption(v, 'baseline-epochs', EPOCHS);
  const baselinePatience = numberOption(v, 'baseline-patience', PATIENCE);
  const baselineDepth = numberOption(v, 'baseline-depth', DEPTH);
  const batchSize = numberOption(v, 'batch', BATCH_SIZE, 32);
  const a = await openModel(v);
  const models = [{ dir: a.dir, data: await modelDataset(v, a), depth: a.meta?.depth ?? 20 }];
  await a.engine.close();
  if (v.model2) {
    const b = await openModel({ ...v, model: v.model2, dataset: v.dataset2 });
    models.push({
      dir: b.dir,
      data: await modelDataset({ ...v, dataset: v.dataset2 }, b),
      depth: b.meta?.depth ?? 20,
    });
    await b.engine.close();
  }
  const scopes = scopesGiven ?? (models.length > 1 ? ['intra', 'inter'] : ['intra']);
  const spec: GridSpec = {
    kind,
    scopes: scopes as ('intra' | 'inter')[],
    seed: d.seed ?? 1,
    pick,
    pairs,
    replaceClasses,
    approach,
    decompose: { perClass: d.perClass ?? 1000, point: d.point!, delta: d.delta!, rule: d.rule! },
    baseline: {
      // Filled from the settings below unless given.
      epochs: baselineEpochs ?? 0,
      patience: baselinePatience ?? 0,
      depth: baselineDepth ?? models[0]!.depth,
      batchSize,
    },
    inference: inferenceOption(v),
  };
  return withMeasureContext(v, { signal: interruptSignal() }, async (ctx) => {
    const { store, settings } = ctx;
    spec.baseline.epochs ||= settings.baselineMaxEpochs;
    spec.baseline.patience ||= settings.baselinePatience;
    const idle = await measureGridIdle(settings);
    const result = await runGrid(spec, models, {
      ...ctx,
      idle,
      workDir: path.resolve((v.out as string | undefined) ?? path.join(eng.home, 'experiments')),
      workers: eng.workers,
      backend: eng.backend,
      onRow: (r) => info(`  done: ${r.key}`),
    });
    const summary = figure6(result.rows);
    if (v.chart) {
      await writeChart(String(v.chart), result.rows, `${kind} experiment: CO2e per scenario`);
      // Part of the result; with --json (whose shape stays) a note on stderr.
      (json ? info : print)(`Figure 6 written to ${path.resolve(String(v.chart))}`);
    }
    if (json)
      printJson({ grid: result.id, kind, resumed: result.resumed, rows: result.rows, figure6: summary });
    else {
      printRows(result.rows);
      const r = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)}x`);
      print(
        `\nFigure 6: training from scratch emits ${r(summary.co2e_ratio_fixed)} (fixed epochs) / ${r(summary.co2e_ratio_best)} (until best) the CO2e of ${kind}; ` +
          `with the one-time decomposition ${r(summary.co2e_ratio_fixed_with_decomposition)} / ${r(summary.co2e_ratio_best_with_decomposition)}${summary.estimated ? ' (energy ESTIMATED: no power counter here)' : ''}.`,
      );
      print(
        `grid ${result.id}: ${result.rows.length} rows saved in ${store.file}${result.resumed ? ` (${result.resumed} resumed)` : ''}`,
      );
    }
    return EXIT.ok;
  });
}
