// decomposer evaluate: compose saved modules on the test set (voting: the module with the
// highest concerned probability wins) and compare with the model.
import path from 'node:path';
import type { Command } from '../main.ts';
import { EXIT, fmtPct, fmtSeconds, info, printJson } from '../output.ts';
import { ENERGY_OPTIONS, ENERGY_USAGE, ENGINE_OPTIONS } from './train.ts';
import { modelDataset, openModel, recordRun } from './decompose.ts';
import { UserError } from '../../core/common/errors.ts';
import {
  composedAccuracy,
  composedScores,
  listModuleSets,
  loadModuleSet,
  meanJaccard,
} from '../../core/node/decompose/index.ts';
import { topKAccuracy } from '../../core/node/train/metrics.ts';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'compose saved modules on the test set and compare with the model',
  usage: `Usage: decomposer evaluate --model DIR [--modules RUN] [options]

  -m, --model DIR     the model the modules were made from
  --modules RUN       a module set (run id or folder; default: the newest)
  -d, --dataset NAME  the model's dataset (default: the model's)
  --classes LIST      compose only these class indices (e.g. 0,3,7)
  --exact             run every module with all its masks (default: backtracked positions,
                      which never change a module's output, are skipped)
  --inference E       auto (default) | onnxruntime | tfjs
${ENERGY_USAGE}
  --json              print one JSON object as the result`,
  options: {
    model: { type: 'string', short: 'm' },
    modules: { type: 'string' },
    dataset: { type: 'string', short: 'd' },
    classes: { type: 'string' },
    exact: { type: 'boolean', default: false },
    inference: { type: 'string' },
    ...ENGINE_OPTIONS,
    ...ENERGY_OPTIONS,
  },
  async run(v) {
    const json = Boolean(v.json);
    const m = await openModel(v);
    try {
      let runDir = v.modules as string | undefined;
      if (!runDir) {
        const sets = await listModuleSets(m.dir);
        if (!sets.length)
          throw new UserError(
            'The model has no saved modules.',
            'Run `decomposer decompose --model DIR` first.',
            'no-modules',
          );
        runDir = sets[0]!.dir;
      } else if (!runDir.includes(path.sep)) runDir = path.join(m.dir, 'modules', runDir);
      const set = await loadModuleSet(runDir, { parentHash: m.plan.hash });
      const classes = (v.classes as string | undefined)?.split(',').map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 0 || n >= m.plan.classes)
          throw new UserError(
            `--classes: "${s}" is not a class index.`,
            `Use indices from 0 to ${m.plan.classes - 1}.`,
            'usage',
          );
        return n;
      });
      const data = await modelDataset(v, m, json);
      const test = data.test;
      const k5 = Math.min(5, m.plan.classes);
      const rec = await recordRun(
        v,
        'evaluate',
        {
          model_dir: path.resolve(m.dir),
          modules_dir: runDir,
          dataset: data.info.id,
          classes: classes ?? null,
        },
        json,
        async () => {
          const t0 = performance.now();
          const probs = await m.engine.predict(test.images, test.count);
          const modelSeconds = (performance.now() - t0) / 1000;
          const c = await composedScores([{ engine: m.engine, set, classes }], test.images, test.count, {
            exact: Boolean(v.exact),
          });
          return {
            model: {
              top1: topKAccuracy(probs, test.labels, m.plan.classes, 1),
              top5: topKAccuracy(probs, test.labels, m.plan.classes, k5),
            },
            composed: {
              top1: composedAccuracy(c, test.labels, 1),
              top5: composedAccuracy(c, test.labels, k5),
            },
            ji: meanJaccard(set),
            seconds: c.seconds,
            passes: c.passes,
            module_evaluations_per_second: c.moduleEvaluations / Math.max(1e-9, c.seconds),
            ratio: c.seconds / Math.max(1e-9, c.labels.length * modelSeconds),
          };
        },
        (r) => r,
      );
      const r = rec.value;
      const out = {
        approach: set.approach,
        modules_dir: runDir,
        test_images: test.count,
        ...r,
        run_id: rec.runId,
        energy: rec.energy.energy,
      };
      if (json) printJson(out);
      else {
        info(`model      top-1 ${fmtPct(r.model.top1)}  top-5 ${fmtPct(r.model.top5)}`);
        info(
          `composed   top-1 ${fmtPct(r.composed.top1)}  top-5 ${fmtPct(r.composed.top5)}  (${set.approach}, mean JI ${r.ji.toFixed(3)})`,
        );
        info(
          `cost       top-1 ${fmtPct(r.composed.top1 - r.model.top1)}  top-5 ${fmtPct(r.composed.top5 - r.model.top5)}`,
        );
        info(
          `time       ${fmtSeconds(r.seconds)}, ${r.module_evaluations_per_second.toFixed(0)} module evaluations/s, ${r.ratio.toFixed(2)}x n model evaluations`,
        );
      }
      return EXIT.ok;
    } finally {
      await m.engine.close();
    }
  },
};
