// decomposer demo: the headless main job: trains the demo ResNet on the embedded dataset,
// decomposes it (Table 1), runs the reuse and replace scenarios with their baselines, and
// reports accuracy and energy.
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
  trainRecorded,
} from './train.ts';
import { loadDataset } from '../../core/node/data/index.ts';
import { UserError } from '../../core/common/errors.ts';
import { cacheDir } from '../../core/node/paths.ts';
import { DEMO_DEFAULTS } from '../../core/node/demo.ts';
import { formatTable1, table1, type Table1 } from '../../core/node/decompose/index.ts';
import { openInference, planModel } from '../../core/node/inference/index.ts';
import { readModelDir } from '../../core/node/models/io.ts';
import { baselineFrom, type BaselineResult, type ScenarioRow } from '../../core/node/reuse/grid.ts';
import { runDemoScenarios } from '../../core/node/reuse/demo-scenarios.ts';
import { Store } from '../../core/node/store/store.ts';
import { effectiveSettings } from '../../core/node/store/settings.ts';
import type { LoadedDataset } from '../../core/common/dataset.ts';
import type { BackendName } from '../../core/common/api.ts';
import { dbFile } from './energy.ts';
import { measureGridIdle, printRows } from './grid.ts';

export { DEMO_DEFAULTS };

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
  --no-reuse          skip the reuse and replace scenarios
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
    const rec = await trainRecorded(v, { data, out, eng, config, json, signal, params: { demo: true } });
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
    // Reuse and replace (Tables 2-5, Figure 6): one scenario of each kind with its baseline.
    const scenarios =
      r.modelDir && r.status === 'finished' && !v['no-reuse'] && decomposePerClass > 0
        ? await demoScenarios(v, {
            modelDir: r.modelDir,
            data,
            config,
            eng,
            json,
            signal,
            perClass: intOption(v, 'per-class', DEMO_DEFAULTS.perClass, 2),
            decomposePerClass,
            ownBaseline: baselineFrom(r, rec.energy, rec.runId),
          })
        : null;
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
        reuse: (scenarios?.reuse ?? []).map((x) => ({
          kind: x.kind,
          classes: x.classes,
          ma: x.ma,
          ...(x.mma !== undefined ? { mma: x.mma } : {}),
          tma: x.tma,
          co2e_ratio_fixed: x.co2e_ratio_fixed,
          co2e_ratio_best: x.co2e_ratio_best,
        })),
        replace: (scenarios?.replace ?? []).map((x) => ({
          kind: x.kind,
          classes: x.classes,
          top1: x.top1,
          top5: x.top5,
          model_top1: x.model_top1,
          tma: x.tma,
          co2e_ratio_fixed: x.co2e_ratio_fixed,
          co2e_ratio_best: x.co2e_ratio_best,
        })),
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
      if (scenarios) printRows([...scenarios.reuse, ...scenarios.replace]);
    }
    return r.status === 'cancelled' ? EXIT.cancelled : EXIT.ok;
  },
};

/** The demo's reuse and replace scenarios with this command's store and energy settings. */
async function demoScenarios(
  v: Record<string, string | boolean | undefined>,
  o: {
    modelDir: string;
    data: LoadedDataset;
    config: { depth: number; epochs: number; batchSize: number; seed: number };
    eng: { workers: number | undefined; backend: BackendName | null; home: string };
    json: boolean;
    signal: AbortSignal;
    perClass: number;
    decomposePerClass: number;
    ownBaseline: BaselineResult;
  },
): Promise<{ reuse: ScenarioRow[]; replace: ScenarioRow[] }> {
  const store = Store.open(dbFile(v));
  try {
    const settings = effectiveSettings(store, {
      idleSeconds: v['idle-seconds'] === undefined ? undefined : intOption(v, 'idle-seconds', 10, 0),
    });
    const idle = await measureGridIdle(settings, true);
    return await runDemoScenarios(
      {
        model: { dir: o.modelDir, data: o.data },
        config: o.config,
        perClass: o.perClass,
        decomposePerClass: o.decomposePerClass,
        ownBaseline: o.ownBaseline,
        cacheDir: cacheDir(o.eng.home),
      },
      {
        store,
        settings,
        idle,
        workers: o.eng.workers,
        backend: o.eng.backend,
        signal: o.signal,
        onInfo: (l) => (o.json ? undefined : info(l)),
      },
    );
  } finally {
    store.close();
  }
}
