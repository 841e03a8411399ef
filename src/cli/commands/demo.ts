// decomposer demo: the headless main job. For now: train a small ResNet on the embedded
// dataset end to end and print its accuracy. Later issues extend it to the whole pipeline.
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import type { Command } from '../main.ts';
import { intOption } from '../main.ts';
import { EXIT, fmtPct, fmtSeconds, info, interruptSignal, printJson } from '../output.ts';
import {
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  ENGINE_USAGE,
  engineSettings,
  modelSummary,
  printEnergy,
  recordTraining,
  trainReporter,
} from './train.ts';
import { loadDataset } from '../../core/node/data/index.ts';
import { UserError } from '../../core/common/errors.ts';
import { cacheDir } from '../../core/node/paths.ts';
import { train } from '../../core/node/train/trainer.ts';
import { formatTable1, table1, type Table1 } from '../../core/node/decompose/index.ts';
import { openInference, planModel } from '../../core/node/inference/index.ts';
import { readModelDir } from '../../core/node/models/io.ts';

// Measured here: ResNet-20 (no batch norm) at these settings reaches about 60% test top-1
// on 'shapes' in about 3-4 minutes on 2 cores: well above chance (10%), far from perfect.
// Batch 32 gives the short run twice the updates of batch 64.
export const DEMO_DEFAULTS = {
  depth: 20,
  epochs: 4,
  perClass: 500,
  testPerClass: 100,
  size: 32,
  batch: 32,
  /** Concerned (and unconcerned) images per module for the demo's decomposition. */
  decomposePerClass: 200,
} as const;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the main job on the embedded dataset, offline (trains a ResNet and reports it)',
  usage: `Usage: decomposer demo [options]

Runs the main job end to end on the embedded synthetic dataset, with no download:
trains a ResNet-${DEMO_DEFAULTS.depth} from scratch and prints its test accuracy.

  --epochs N          epochs (default ${DEMO_DEFAULTS.epochs})
  --depth N           ResNet depth (default ${DEMO_DEFAULTS.depth})
  --per-class N       training images per class (default ${DEMO_DEFAULTS.perClass})
  --batch N           batch size (default ${DEMO_DEFAULTS.batch})
  --size N            32 (default) or 64
  --seed N            seed (default 1)
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
    ...ENGINE_OPTIONS,
    ...ENERGY_OPTIONS,
  },
  async run(v) {
    const json = Boolean(v.json);
    const eng = engineSettings(v);
    const size = intOption(v, 'size', DEMO_DEFAULTS.size, 8);
    const seed = intOption(v, 'seed', 1);
    const depth = intOption(v, 'depth', DEMO_DEFAULTS.depth, 8);
    if (size !== 32 && size !== 64)
      throw new UserError(
        `--size must be 32 or 64, not ${size}.`,
        'The embedded dataset comes in 32x32 and 64x64.',
        'usage',
      );
    const data = await loadDataset(
      {
        kind: 'synthetic',
        name: 'shapes',
        size,
        seed,
        trainPerClass: intOption(v, 'per-class', DEMO_DEFAULTS.perClass, 2),
        testPerClass: DEMO_DEFAULTS.testPerClass,
      },
      { cacheDir: cacheDir(eng.home) },
    );
    const out = (v.out as string | undefined) ?? (await mkdtemp(path.join(os.tmpdir(), 'decomposer-demo-')));
    if (!json)
      info(
        `demo: ResNet-${depth} on the embedded "${data.info.name}" dataset (${data.info.classNames.length} classes, ${size}x${size}); run folder ${out}`,
      );
    const config = {
      depth,
      epochs: intOption(v, 'epochs', DEMO_DEFAULTS.epochs, 1),
      batchSize: intOption(v, 'batch', DEMO_DEFAULTS.batch, 1),
      seed,
    };
    const signal = interruptSignal();
    const rec = await recordTraining(
      v,
      {
        demo: true,
        dataset: data.info.id,
        run_dir: path.resolve(out),
        workers: eng.workers ?? null,
        ...config,
      },
      json,
      (onEvent) =>
        train({
          runDir: path.resolve(out),
          data,
          workers: eng.workers,
          backend: eng.backend,
          signal,
          onEvent,
          config,
        }),
      trainReporter(json),
    );
    const r = rec.result;
    const model = modelSummary(r, data.info.name, data.info.classNames.length, depth);
    // Decomposition (Table 1 of the paper) of the trained model, on the same data.
    const decomposePerClass = intOption(v, 'decompose-per-class', DEMO_DEFAULTS.decomposePerClass, 0);
    let table: Table1 | null = null;
    if (r.modelDir && r.status === 'finished' && decomposePerClass > 0) {
      if (!json)
        info(
          `decomposing into ${data.info.classNames.length} modules (${decomposePerClass} images per class)…`,
        );
      const { artifacts } = await readModelDir(r.modelDir);
      const engine = await openInference(r.modelDir);
      try {
        table = await table1(engine, planModel(artifacts), data.train, data.test, {
          perClass: decomposePerClass,
          seed,
          classNames: data.info.classNames,
          signal,
        });
      } finally {
        await engine.close();
      }
    }
    const decomposition =
      table?.rows.map((x) => ({
        approach: x.approach,
        top1: x.top1,
        top5: x.top5,
        ji: x.ji,
        seconds: x.seconds,
      })) ?? [];
    if (json)
      printJson({
        backend: r.backend,
        backend_detail: r.backendDetail,
        engines: { training: `tfjs-${r.backend}`, evaluation: r.evalEngine },
        status: r.status,
        model_dir: r.modelDir,
        model,
        energy: { train: rec.energy.energy },
        energy_until_best: { train: rec.energy.untilBest },
        run_ids: { train: rec.runId },
        decomposition,
      });
    else {
      info('');
      info(`backend      ${r.backend}`);
      info(
        `model        ResNet-${depth}, ${model.classes} classes, ${model.epochs} epochs (best ${model.best_epoch})`,
      );
      info(`test top-1   ${fmtPct(model.top1)}`);
      info(`test top-5   ${fmtPct(model.top5)}`);
      info(`time         ${fmtSeconds(model.seconds)}`);
      if (r.modelDir) info(`saved in     ${r.modelDir}`);
      printEnergy(rec.runId, rec.energy);
      if (table) {
        info('');
        info(formatTable1(table, `shapes-R${depth}`));
      }
    }
    return r.status === 'cancelled' ? EXIT.cancelled : EXIT.ok;
  },
};
