// decomposer evaluate: compose saved modules on the test set (voting: the module with the
// highest concerned probability wins) and compare with the model.
import type { Command } from '../command.ts';
import { modelDataset, openModel, recordRun } from '../models.ts';
import {
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  INFERENCE_ARG,
  listOf,
  withEngine,
} from '../options.ts';
import path from 'node:path';
import { EXIT, fmtPct, fmtSeconds, print, printJson } from '../output.ts';
import { printEnergy } from '../training.ts';
import { CLASS_INDEX } from '../../core/common/bounds.ts';
import { UserError } from '../../core/common/errors.ts';
import { PATH, v } from '../../core/common/schema.ts';
import {
  composedAccuracy,
  composedScores,
  listModuleSets,
  loadModuleSet,
  meanJaccard,
  meanPairwiseJaccard,
} from '../../core/node/decompose/index.ts';
import { argmaxRows, topKAccuracy } from '../../core/node/train/metrics.ts';
import { planModel } from '../../core/node/graph/plan.ts';
import { readModelDir } from '../../core/node/models/io.ts';
import {
  accuracyExcept,
  closeRepaired,
  confusionRate,
  isRepairedDir,
  loadRepaired,
  repairedScores,
} from '../../core/node/wizard/index.ts';

const EVALUATE_ARGS = withEngine(
  {
    model: v.optional(PATH),
    modules: v.optional(PATH),
    dataset: v.optional(v.string()),
    classes: v.optional(listOf(CLASS_INDEX.text)),
    exact: v.optional(v.boolean(), false),
    inference: INFERENCE_ARG,
  },
  (o) => ({
    model: o.model,
    modules: o.modules,
    dataset: o.dataset,
    classes: o.classes,
    exact: o.exact,
    inference: o.inference,
  }),
);

type EvaluateArgs = v.InferOutput<typeof EVALUATE_ARGS>;

export const evaluateCommand: Command<EvaluateArgs> = {
  name: 'evaluate',
  summary: 'compose saved modules on the test set and compare with the model',
  usage: `Usage: decomposer evaluate --model DIR [--modules RUN] [options]

  -m, --model DIR     the model the modules were made from, or a repaired classifier saved by
                      \`decomposer wizard\` (then its top-1, top-5 and the repaired pair's confusion)
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
  args: EVALUATE_ARGS,
  async run(o) {
    const { json } = o;
    if (o.model !== undefined && (await isRepairedDir(o.model))) return evaluateRepaired(o, o.model);
    const m = await openModel(o.model, o.inference);
    try {
      let runDir = o.modules;
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
      const set = await loadModuleSet(runDir, { plan: m.plan });
      const classes = o.classes;
      const beyond = classes?.find((c) => c >= m.plan.classes);
      if (beyond !== undefined)
        throw new UserError(
          `decomposer evaluate: --classes: must be class indices of the model (got ${beyond}).`,
          `Use indices from 0 to ${m.plan.classes - 1}.`,
          'usage',
        );
      const data = await modelDataset(o.dataset, m, o.engine.home);
      const test = data.test;
      const k5 = Math.min(5, m.plan.classes);
      const rec = await recordRun(
        o.store,
        {
          kind: 'evaluate',
          params: {
            model_dir: path.resolve(m.dir),
            modules_dir: runDir,
            dataset: data.info.id,
            classes: classes ?? null,
          },
        },
        async () => {
          const t0 = performance.now();
          const probs = await m.engine.predict(test.images, test.count);
          const modelSeconds = (performance.now() - t0) / 1000;
          const c = await composedScores([{ engine: m.engine, set, classes }], test.images, test.count, {
            exact: o.exact,
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
            ji_modules: meanPairwiseJaccard(set),
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
        print(`model      top-1 ${fmtPct(r.model.top1)}  top-5 ${fmtPct(r.model.top5)}`);
        print(
          `composed   top-1 ${fmtPct(r.composed.top1)}  top-5 ${fmtPct(r.composed.top5)}  (${set.approach}, JI module vs model ${r.ji.toFixed(3)}, module vs module ${r.ji_modules.toFixed(3)})`,
        );
        print(
          `cost       top-1 ${fmtPct(r.composed.top1 - r.model.top1)}  top-5 ${fmtPct(r.composed.top5 - r.model.top5)}`,
        );
        print(
          `time       ${fmtSeconds(r.seconds)}, ${r.module_evaluations_per_second.toFixed(0)} module evaluations/s, ${r.ratio.toFixed(2)}x n model evaluations`,
        );
        printEnergy(rec.runId, rec.energy);
      }
      return EXIT.ok;
    } finally {
      await m.engine.close();
    }
  },
};

interface PairHistory {
  dataset?: string;
  faulty?: { index: number; name: string };
  victim?: { index: number; name: string };
  option?: number;
}

/** A repaired classifier (the wizard's) on its dataset's test set, recorded as an evaluate run. */
async function evaluateRepaired(o: EvaluateArgs, model: string): Promise<number> {
  const { json } = o;
  const dir = path.resolve(model);
  const loaded = await loadRepaired(dir, { engine: o.inference });
  try {
    const p = loaded.pipeline;
    const h = (loaded.history ?? {}) as PairHistory;
    const plan = planModel((await readModelDir(p.parts[0]!.modelDir)).artifacts);
    const data = await modelDataset(o.dataset, { dir, meta: { datasetId: h.dataset }, plan }, o.engine.home);
    const test = data.test;
    const n = p.classNames.length;
    const rec = await recordRun(
      o.store,
      { kind: 'evaluate', params: { repaired_dir: dir, dataset: data.info.id } },
      async () => {
        const t0 = performance.now();
        const scores = await repairedScores(p, test.images, test.count);
        const seconds = (performance.now() - t0) / 1000;
        const pred = argmaxRows(scores, n);
        return {
          top1: topKAccuracy(scores, test.labels, n, 1),
          top5: topKAccuracy(scores, test.labels, n, Math.min(5, n)),
          ...(h.faulty && h.victim
            ? {
                confusion: confusionRate(pred, test.labels, h.victim.index, h.faulty.index),
                other_top1: accuracyExcept(pred, test.labels, [h.victim.index, h.faulty.index]),
              }
            : {}),
          seconds,
        };
      },
      (r) => r,
    );
    const r = rec.value;
    const out = {
      repaired: dir,
      name: loaded.name,
      kind: p.kind,
      option: h.option ?? null,
      faulty: h.faulty ?? null,
      victim: h.victim ?? null,
      test_images: test.count,
      ...r,
      run_id: rec.runId,
      energy: rec.energy.energy,
    };
    if (json) printJson(out);
    else {
      print(`repaired classifier ${loaded.name} (${p.kind}${h.option ? `, option ${h.option}` : ''})`);
      print(`top-1 ${fmtPct(r.top1)}  top-5 ${fmtPct(r.top5)} on ${test.count} test images`);
      if (r.confusion !== undefined && h.victim && h.faulty)
        print(
          `${h.victim.name} predicted as ${h.faulty.name}: ${fmtPct(r.confusion)}; other classes top-1 ${fmtPct(r.other_top1 ?? 0)}`,
        );
      print(`time ${fmtSeconds(r.seconds)}`);
      printEnergy(rec.runId, rec.energy);
    }
    return EXIT.ok;
  } finally {
    await closeRepaired(loaded.pipeline);
  }
}
