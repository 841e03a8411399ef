// decomposer experiment: the paper's Table 1 for one model (decomposition), and its Tables 2-5
// and Figure 6 on the user's models and data (reuse, replace): every row saved in the store,
// interrupted grids resume.
import path from 'node:path';
import type { Command } from '../command.ts';
import { loadGridModels, writeGridPlan } from '../cluster.ts';
import {
  APPROACH_ARG,
  DECOMPOSE_ARGS,
  DECOMPOSE_OPTIONS,
  DECOMPOSE_USAGE,
  decomposeOf,
  modelDataset,
  readModel,
  writeJson,
} from '../models.ts';
import { listOf, withEngine, withMeasureContext } from '../options.ts';
import { EXIT, info, interruptSignal, print, printJson } from '../output.ts';
import { printEnergy } from '../training.ts';
import { figure6, measureGridIdle, printRows, rowWarnings, writeChart } from '../scenarios.ts';
import {
  BATCH_SIZE,
  CLASS_INDEX,
  DEPTH,
  EPOCHS,
  GRID_PAIRS,
  GRID_PICK,
  PATIENCE,
} from '../../core/common/bounds.ts';
import { UserError } from '../../core/common/errors.ts';
import { GRID_SCOPES, type GridParams } from '../../core/common/reuse.ts';
import { PATH, v } from '../../core/common/schema.ts';
import { didYouMean } from '../../core/common/suggest.ts';
import { APPROACHES, formatTable1 } from '../../core/node/decompose/index.ts';
import { runGrid } from '../../core/node/workflows/grid.ts';
import { gridSpec } from '../../core/node/workflows/grid-spec.ts';
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
  plan: { type: 'string' },
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
  --baseline-depth N  its ResNet depth (default: model A's; an imported model A's baselines
                      train its own architecture, and this is refused)
  --batch N           its batch size (default 32)
  -o, --out DIR       where baselines train (default <home>/experiments)
  --plan FILE         write the grid as tasks for a cluster and run nothing: phase one
                      decomposes each model, phase two trains one baseline per task with
                      the scenarios sharing it (see decomposer task, merge, submit)
  --backend, --workers  the baselines' training engine`;

/**
 * The options of Table 1 and of a grid. A grid's parse into the grid's parameters (the same
 * GridParams a scenario built in the app becomes) waits for its kind, the first positional.
 */
const EXPERIMENT_ARGS = withEngine(
  {
    ...DECOMPOSE_ARGS,
    model2: v.optional(PATH),
    dataset2: v.optional(v.string()),
    scope: v.optional(listOf(v.picklist(GRID_SCOPES, 'must be intra, inter or intra,inter'))),
    pick: v.optional(GRID_PICK.text),
    pairs: v.optional(GRID_PAIRS.text),
    classes: v.optional(listOf(CLASS_INDEX.text)),
    approach: v.optional(APPROACH_ARG),
    'baseline-epochs': v.optional(EPOCHS.text),
    'baseline-patience': v.optional(PATIENCE.text),
    chart: v.optional(PATH),
    'baseline-depth': v.optional(DEPTH.text),
    batch: v.optional(BATCH_SIZE.text),
    out: v.optional(PATH),
    plan: v.optional(PATH),
    'no-save': v.optional(v.boolean(), false),
  },
  (o) => ({
    model: o.model,
    dataset: o.dataset,
    model2: o.model2,
    dataset2: o.dataset2,
    inference: o.inference,
    approach: o.approach,
    save: !o['no-save'],
    chart: o.chart,
    out: o.out,
    plan: o.plan,
    table1: () => decomposeOf(o, 'experiment', true),
    grid: (kind: 'reuse' | 'replace'): GridParams => {
      const d = decomposeOf(o, 'experiment', false);
      return {
        kind,
        ...(o.scope ? { scopes: o.scope } : {}),
        seed: d.seed,
        ...(o.pick !== undefined ? { pick: o.pick } : {}),
        ...(o.pairs !== undefined ? { pairs: o.pairs } : {}),
        ...(o.classes ? { replaceClasses: o.classes } : {}),
        ...(o.approach ? { approach: o.approach } : {}),
        perClass: d.perClass,
        point: d.point,
        delta: d.delta,
        rule: d.rule,
        ...(o['baseline-epochs'] !== undefined ? { baselineEpochs: o['baseline-epochs'] } : {}),
        ...(o['baseline-patience'] !== undefined ? { baselinePatience: o['baseline-patience'] } : {}),
        ...(o['baseline-depth'] !== undefined ? { baselineDepth: o['baseline-depth'] } : {}),
        ...(o.batch !== undefined ? { batchSize: o.batch } : {}),
        inference: o.inference,
      };
    },
  }),
);

type ExperimentArgs = v.InferOutput<typeof EXPERIMENT_ARGS>;

export const experimentCommand: Command<ExperimentArgs> = {
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
  args: EXPERIMENT_ARGS,
  async run(o, positionals) {
    const { json } = o;
    if (positionals[0] === 'reuse' || positionals[0] === 'replace') return gridCommand(positionals[0], o);
    if (positionals[0] !== 'decomposition')
      throw new UserError(
        `Unknown experiment "${positionals[0] ?? ''}".${didYouMean(positionals[0] ?? '', ['decomposition', 'reuse', 'replace'])}`,
        'Use: decomposer experiment decomposition|reuse|replace --model DIR (see --help).',
        'usage',
      );
    if (o.approach !== undefined)
      throw new UserError(
        '--approach chooses the approach of a reuse or replace grid; Table 1 always shows every approach.',
        'Leave --approach out of experiment decomposition (its JSON has one row per approach).',
        'usage',
      );
    const settings = o.table1();
    const m = await readModel(o.model);
    const data = await modelDataset(o.dataset, m, o.engine.home);
    const rec = await withMeasureContext(o.store, {}, (ctx) =>
      recordedTable1(ctx, { ...m, data }, { ...settings, save: o.save, inference: o.inference }),
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

async function gridCommand(kind: 'reuse' | 'replace', o: ExperimentArgs): Promise<number> {
  const { json, engine: eng } = o;
  // Every option is checked before a model or dataset is read.
  const params = o.grid(kind);
  const given = [{ dir: o.model, dataset: o.dataset }];
  if (o.model2) given.push({ dir: o.model2, dataset: o.dataset2 });
  const models = await loadGridModels(given, o.inference, eng.home);
  const workDir = path.resolve(o.out ?? path.join(eng.home, 'experiments'));
  if (o.plan) {
    const plan = o.plan;
    return withMeasureContext(o.store, {}, (ctx) =>
      writeGridPlan(
        plan,
        { params, models: models.map((m, i) => ({ ...m, dataset: given[i]!.dataset })), workDir, json },
        ctx,
      ),
    );
  }
  return withMeasureContext(o.store, { signal: interruptSignal() }, async (ctx) => {
    const { store, settings } = ctx;
    const spec = gridSpec(params, { settings, models });
    const idle = await measureGridIdle(settings);
    const result = await runGrid(spec, models, {
      ...ctx,
      idle,
      workDir,
      workers: eng.workers,
      backend: eng.backend,
      onRow: (r) => info(`  done: ${r.key}`),
    });
    const summary = figure6(result.rows);
    const warnings = rowWarnings(result.rows);
    // A grid whose tasks ran across a cluster says so: its ratios compare runs of one
    // machine each (a scenario and its baseline ran in one task), its totals several.
    const machines = store.grids.machinesOf(result.id);
    const across =
      machines.length > 1
        ? `runs from ${machines.length} machines: ${machines.map((m) => `${m.hostname} (${m.cpu_model}, ${m.pieces} run(s))`).join(', ')}`
        : null;
    if (o.chart) {
      await writeChart(
        o.chart,
        result.rows,
        `${kind} experiment: CO2e per scenario${across ? ` (runs from ${machines.length} machines)` : ''}`,
      );
      // Part of the result; with --json (whose shape stays) a note on stderr.
      (json ? info : print)(`Figure 6 written to ${path.resolve(o.chart)}`);
    }
    if (json)
      printJson({
        grid: result.id,
        kind,
        resumed: result.resumed,
        rows: result.rows.map((r, i) => ({ ...r, warning: warnings[i] ?? null })),
        figure6: summary,
        machines,
      });
    else {
      printRows(result.rows);
      const r = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(1)}x`);
      print(
        `\nFigure 6: training from scratch emits ${r(summary.co2e_ratio_fixed)} (fixed epochs) / ${r(summary.co2e_ratio_best)} (until best) the CO2e of ${kind}; ` +
          `with the one-time decomposition ${r(summary.co2e_ratio_fixed_with_decomposition)} / ${r(summary.co2e_ratio_best_with_decomposition)}${summary.estimated ? ' (energy ESTIMATED: no power counter here)' : ''}; energy attributed per ${summary.attribution}.`,
      );
      if (across) print(`Each scenario and its baseline ran on one machine; the grid's ${across}.`);
      print(
        `grid ${result.id}: ${result.rows.length} rows saved in ${store.file}${result.resumed ? ` (${result.resumed} resumed)` : ''}`,
      );
    }
    return EXIT.ok;
  });
}
