// decomposer demo: the headless main job: trains the demo ResNet on the embedded dataset,
// decomposes it (Table 1), runs the reuse and replace scenarios with their baselines, and
// reports accuracy and energy.
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import type { Command } from '../command.ts';
import {
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  ENGINE_USAGE,
  withEngine,
  withMeasureContext,
} from '../options.ts';
import { EXIT, info, interruptSignal, print, printJson } from '../output.ts';
import { printRows, rowWarnings, writeChart } from '../scenarios.ts';
import { loadSpecWithProgress, parseDatasetOption } from '../models.ts';
import { modelSummary, printTraining, trainRecorded } from '../training.ts';
import type { DemoParams } from '../../core/common/api.ts';
import {
  BATCH_SIZE,
  DEPTH,
  EPOCHS,
  PATIENCE,
  SEED,
  TRAIN_PER_CLASS,
  UNCONCERNED,
} from '../../core/common/bounds.ts';
import { PATH, v } from '../../core/common/schema.ts';
import { formatTable1 } from '../../core/node/decompose/index.ts';
import { DEMO_DEFAULTS } from '../../core/node/demo.ts';
import { cacheDir } from '../../core/node/paths.ts';
import { table1Json } from '../../core/node/workflows/decomposition.ts';
import { runDemo, type DemoSettings } from '../../core/node/workflows/demo.ts';
import { trainingEngineName } from '../../core/node/train/trainer.ts';

/** The demo's options: the app's demo parameters, and what only the command line sets. */
const DEMO_ARGS = withEngine(
  {
    epochs: v.optional(EPOCHS.text, DEMO_DEFAULTS.epochs),
    depth: v.optional(DEPTH.text, DEMO_DEFAULTS.depth),
    'per-class': v.optional(TRAIN_PER_CLASS.text, DEMO_DEFAULTS.perClass),
    batch: v.optional(BATCH_SIZE.text, DEMO_DEFAULTS.batch),
    // The embedded dataset comes in 32x32 and 64x64.
    size: v.optional(
      v.pipe(
        v.union([v.literal('32'), v.literal('64')], 'must be 32 or 64'),
        v.transform((x) => Number(x) as 32 | 64),
      ),
      String(DEMO_DEFAULTS.size) as '32',
    ),
    seed: v.optional(SEED.text, 1),
    'decompose-per-class': v.optional(UNCONCERNED.text, DEMO_DEFAULTS.decomposePerClass),
    out: v.optional(PATH),
    'no-reuse': v.optional(v.boolean(), false),
    chart: v.optional(PATH),
    dataset: v.optional(v.string()),
    'baseline-epochs': v.optional(EPOCHS.text),
    'baseline-patience': v.optional(PATIENCE.text),
  },
  (o) => ({
    params: {
      epochs: o.epochs,
      depth: o.depth,
      perClass: o['per-class'],
      scenarios: !o['no-reuse'],
      ...(o.dataset !== undefined ? { dataset: o.dataset } : {}),
    } satisfies DemoParams,
    batchSize: o.batch,
    size: o.size,
    seed: o.seed,
    decomposePerClass: o['decompose-per-class'],
    baseline: { epochs: o['baseline-epochs'], patience: o['baseline-patience'] },
    out: o.out,
    chart: o.chart,
  }),
);

export { DEMO_DEFAULTS };

export const demoCommand: Command<v.InferOutput<typeof DEMO_ARGS>> = {
  name: 'demo',
  summary: 'the main job on the embedded dataset, offline (trains a ResNet and reports it)',
  usage: `Usage: decomposer demo [options]

Runs the main job end to end on the embedded synthetic dataset, with no download (or on
--dataset NAME): trains a ResNet-${DEMO_DEFAULTS.depth} from scratch, decomposes it (Table 1), then runs
one intra and one inter scenario each of reuse and replace against baselines trained from
scratch (Tables 2-5, Figure 6).

  --dataset NAME      any dataset decomposer loads (e.g. fashion-mnist, cifar10:PATH); its
                      training set is cut to --per-class images per class (seeded), its test
                      set kept whole; the inter scenarios pair it with the embedded textures

  --epochs N          epochs (default ${DEMO_DEFAULTS.epochs})
  --depth N           ResNet depth (default ${DEMO_DEFAULTS.depth})
  --per-class N       training images per class (default ${DEMO_DEFAULTS.perClass})
  --batch N           batch size (default ${DEMO_DEFAULTS.batch})
  --size N            32 (default) or 64
  --seed N            seed (default 1)
  --no-reuse          skip the reuse and replace scenarios
  --baseline-epochs N the most epochs of each scenario's baseline (default: the
                      baselineMaxEpochs setting)
  --baseline-patience N  a baseline stops once validation accuracy has not improved for N
                      epochs (default: the baselinePatience setting)
  --chart FILE        write Figure 6 of the scenarios (CO2e each way, log axis) as an SVG file

Progress (steps, epochs, ETA) goes to stderr in every mode; with --json, stdout holds only
the JSON. Baselines train until validation accuracy stops improving (the baselinePatience
and baselineMaxEpochs settings); a scenario whose baseline did not converge is flagged.
  --decompose-per-class N  images per class the decomposition observes (default ${DEMO_DEFAULTS.decomposePerClass};
                      0 skips the decomposition)
  -o, --out DIR       run folder (default: a new temporary folder)
${ENERGY_USAGE}
${ENGINE_USAGE}`,
  options: {
    epochs: { type: 'string', short: 'e' },
    depth: { type: 'string' },
    'per-class': { type: 'string' },
    batch: { type: 'string' },
    size: { type: 'string' },
    seed: { type: 'string' },
    'decompose-per-class': { type: 'string' },
    out: { type: 'string', short: 'o' },
    'no-reuse': { type: 'boolean', default: false },
    chart: { type: 'string' },
    dataset: { type: 'string', short: 'd' },
    'baseline-epochs': { type: 'string' },
    'baseline-patience': { type: 'string' },
    ...ENGINE_OPTIONS,
    ...ENERGY_OPTIONS,
  },
  args: DEMO_ARGS,
  async run(o) {
    const { json, params: p, engine: eng } = o;
    const settings: DemoSettings = {
      depth: p.depth,
      epochs: p.epochs,
      perClass: p.perClass,
      batchSize: o.batchSize,
      seed: o.seed,
      size: o.size,
      decomposePerClass: o.decomposePerClass,
      scenarios: p.scenarios,
    };
    // Checked before any work; the settings fill in what is not given once the store is open.
    const dataset =
      p.dataset === undefined ? null : parseDatasetOption(p.dataset, o.size, settings.seed, eng.home);
    const out = o.out ?? (await mkdtemp(path.join(os.tmpdir(), 'decomposer-demo-')));
    // Progress goes to stderr in every mode (a --json demo runs for minutes); each result
    // goes to stdout as soon as it is known: the training, Table 1, then the scenarios.
    let modelName = '';
    const d = await withMeasureContext(o.store, { signal: interruptSignal() }, (ctx) =>
      runDemo(
        {
          ...settings,
          baseline: {
            epochs: o.baseline.epochs ?? ctx.settings.baselineMaxEpochs,
            patience: o.baseline.patience ?? ctx.settings.baselinePatience,
          },
        },
        {
          ...ctx,
          cacheDir: cacheDir(eng.home),
          ...(dataset ? { loadData: () => loadSpecWithProgress(dataset, eng.home) } : {}),
          workers: eng.workers,
          backend: eng.backend,
          train: async (data, config, experimentId) => {
            modelName = `${data.info.name}-R${config.depth}`;
            info(
              `demo: ResNet-${config.depth} on ${p.dataset ? '' : 'the embedded '}"${data.info.name}" (${data.info.classNames.length} classes, ${data.info.trainCount} training images, ${data.info.imageSize}x${data.info.imageSize}); run folder ${out}`,
            );
            const rec = await trainRecorded(
              { ...ctx, experimentId },
              { data, out, eng, config, params: { demo: true } },
            );
            if (!json) {
              const model = modelSummary(
                rec.result,
                data.info.name,
                data.info.classNames.length,
                config.depth,
              );
              printTraining(rec, model, out);
            }
            return rec;
          },
          onTable1: (t) => {
            if (json) return;
            print('');
            print(formatTable1(t.value.table, modelName));
            print(
              `Table 1 recorded as run ${t.runId}; module sets saved in ${path.dirname(t.value.dirs[0] ?? '.')}`,
            );
          },
        },
      ),
    );
    const r = d.training.result;
    if (o.chart && d.scenarios) {
      await writeChart(
        o.chart,
        [...d.scenarios.reuse, ...d.scenarios.replace],
        `Demo on ${d.data.info.name}: CO2e per scenario`,
      );
      // Part of the result; with --json (whose shape stays) a note on stderr.
      (json ? info : print)(`Figure 6 written to ${path.resolve(o.chart)}`);
    }
    const model = modelSummary(r, d.data.info.name, d.data.info.classNames.length, settings.depth);
    const table = d.table1?.value.table ?? null;
    const warnings = rowWarnings([...(d.scenarios?.reuse ?? []), ...(d.scenarios?.replace ?? [])]);
    if (json)
      printJson({
        backend: r.backend,
        backend_detail: r.backendDetail,
        engines: { training: trainingEngineName(r.backend), evaluation: r.evalEngine },
        status: r.status,
        model_dir: r.modelDir,
        model,
        energy: {
          train: d.training.energy.energy,
          ...(d.table1 ? { decomposition: d.table1.energy.energy } : {}),
        },
        energy_until_best: { train: d.training.energy.untilBest },
        run_ids: { train: d.training.runId, ...(d.table1 ? { decomposition: d.table1.runId } : {}) },
        decomposition: table ? table1Json(table).decomposition : [],
        modules_dirs: d.table1?.value.dirs ?? [],
        reuse: (d.scenarios?.reuse ?? []).map((x, i) => ({
          kind: x.kind,
          classes: x.classes,
          ma: x.ma,
          ...(x.mma !== undefined ? { mma: x.mma } : {}),
          tma: x.tma,
          co2e_ratio_fixed: x.co2e_ratio_fixed,
          co2e_ratio_best: x.co2e_ratio_best,
          baseline_best_epoch: x.baseline_best_epoch ?? null,
          baseline_converged: x.baseline_converged ?? null,
          warning: warnings[i] ?? null,
        })),
        replace: (d.scenarios?.replace ?? []).map((x, i) => ({
          kind: x.kind,
          classes: x.classes,
          top1: x.top1,
          top5: x.top5,
          model_top1: x.model_top1,
          tma: x.tma,
          co2e_ratio_fixed: x.co2e_ratio_fixed,
          co2e_ratio_best: x.co2e_ratio_best,
          baseline_best_epoch: x.baseline_best_epoch ?? null,
          baseline_converged: x.baseline_converged ?? null,
          warning: warnings[(d.scenarios?.reuse.length ?? 0) + i] ?? null,
        })),
      });
    else if (d.scenarios) printRows([...d.scenarios.reuse, ...d.scenarios.replace]);
    return r.status === 'cancelled' ? EXIT.cancelled : EXIT.ok;
  },
};
