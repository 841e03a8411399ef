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
  trainRecorded,
} from './train.ts';
import { loadDataset } from '../../core/node/data/index.ts';
import { UserError } from '../../core/common/errors.ts';
import { cacheDir } from '../../core/node/paths.ts';
import { DEMO_DEFAULTS } from '../../core/node/demo.ts';
import { train } from '../../core/node/train/trainer.ts';
import { formatTable1, table1, type Table1 } from '../../core/node/decompose/index.ts';
import { openInference, planModel } from '../../core/node/inference/index.ts';
import { readModelDir } from '../../core/node/models/io.ts';
import { DEFAULT_DELTA, DEFAULT_POINT } from '../../core/node/decompose/index.ts';
import { recordTrainingRun } from '../../core/node/jobs/record.ts';
import {
  baselineFrom,
  imagesKey,
  runGrid,
  type BaselineResult,
  type GridModel,
  type GridSpec,
  type ScenarioRow,
} from '../../core/node/reuse/grid.ts';
import { intraReplaceGrid } from '../../core/node/reuse/scenario.ts';
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

/**
 * The demo's reuse and replace scenarios: a second model on the same dataset (another
 * depth) and one on the second embedded dataset are trained, then one intra and one inter
 * scenario each of reuse and replace run with their baselines. The demo model's own training
 * is the baseline of the intra replace (it was trained from scratch on exactly those classes).
 */
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
  const say = (l: string) => (o.json ? undefined : info(l));
  const store = Store.open(dbFile(v));
  try {
    const settings = effectiveSettings(store, {
      idleSeconds: v['idle-seconds'] === undefined ? undefined : intOption(v, 'idle-seconds', 10, 0),
    });
    const idle = await measureGridIdle(settings, true);
    const size = o.data.info.imageSize as 32 | 64;
    const textures = await loadDataset(
      {
        kind: 'synthetic',
        name: 'textures',
        size,
        seed: o.config.seed,
        trainPerClass: o.perClass,
        testPerClass: DEMO_DEFAULTS.testPerClass,
      },
      { cacheDir: cacheDir(o.eng.home) },
    );
    const second = async (name: string, data: LoadedDataset, seed: number): Promise<GridModel> => {
      say(`training a second model for the scenarios: ResNet-8 on "${data.info.name}"…`);
      const runDir = path.join(path.dirname(o.modelDir), name);
      const t = await recordTrainingRun({
        store,
        settings,
        idle,
        runDir,
        params: { demo: true, dataset: data.info.id, depth: 8, epochs: o.config.epochs },
        label: `demo ${name}`,
        work: (onEvent) =>
          train({
            runDir,
            data,
            workers: o.eng.workers,
            backend: o.eng.backend,
            signal: o.signal,
            onEvent,
            config: { ...o.config, depth: 8, seed },
          }),
      });
      if (!t.result.modelDir || t.result.status !== 'finished')
        throw new UserError('Training was cancelled.', 'Run the demo again.', 'cancelled');
      return { dir: t.result.modelDir, data };
    };
    const a: GridModel = { dir: o.modelDir, data: o.data };
    const b = await second('model-shapes-r8', o.data, o.config.seed + 1);
    const c = await second('model-textures-r8', textures, o.config.seed);
    const spec = (
      kind: 'reuse' | 'replace',
      scopes: ('intra' | 'inter')[],
      replaceClasses?: number[],
    ): GridSpec => ({
      kind,
      scopes,
      seed: o.config.seed,
      pick: 2,
      pairs: 1,
      replaceClasses,
      approach: 'CI+TI+MC-BLN',
      decompose: { perClass: o.decomposePerClass, point: DEFAULT_POINT, delta: DEFAULT_DELTA, rule: 'prose' },
      baseline: { epochs: o.config.epochs, depth: o.config.depth, batchSize: o.config.batchSize },
      inference: 'auto',
    });
    const n = o.data.info.classNames.length;
    const replaced = intraReplaceGrid(n, [0])[0]!;
    const ctx = {
      store,
      settings,
      idle,
      workDir: path.join(path.dirname(o.modelDir), 'scenarios'),
      workers: o.eng.workers,
      backend: o.eng.backend,
      signal: o.signal,
      onInfo: say,
      knownBaselines: new Map([[imagesKey(replaced), o.ownBaseline]]),
    };
    const reuseIntra = await runGrid(spec('reuse', ['intra']), [a], ctx);
    const reuseInter = await runGrid(spec('reuse', ['inter']), [a, c], ctx);
    const replaceIntra = await runGrid(spec('replace', ['intra'], [0]), [a, b], ctx);
    const replaceInter = await runGrid(spec('replace', ['inter']), [a, c], ctx);
    return {
      reuse: [...reuseIntra.rows, ...reuseInter.rows],
      replace: [...replaceIntra.rows, ...replaceInter.rows],
    };
  } finally {
    store.close();
  }
}
