// decomposer experiment decomposition: the paper's Table 1 for one model.
import path from 'node:path';
import type { Command } from '../main.ts';
import { EXIT, info, printJson } from '../output.ts';
import {
  DECOMPOSE_OPTIONS,
  DECOMPOSE_USAGE,
  decomposeSettings,
  modelDataset,
  openModel,
  recordRun,
  writeJson,
} from './decompose.ts';
import { UserError } from '../../core/common/errors.ts';
import { GRID_OPTIONS, GRID_USAGE, gridCommand } from './grid.ts';
import { formatTable1, saveModuleSet, table1, type Table1 } from '../../core/node/decompose/index.ts';

/** Table 1 as JSON (fractions in [0, 1], seconds). */
export function table1Json(t: Table1) {
  return {
    model: t.model,
    test_images: t.testImages,
    decomposition: t.rows.map((r) => ({
      approach: r.approach,
      top1: r.top1,
      top5: r.top5,
      ji: r.ji,
      seconds: r.seconds,
      eval_seconds: r.evalSeconds,
    })),
    observe_seconds: t.observeSeconds,
    compose_ratio: t.composeRatio,
    module_evaluations_per_second: t.moduleEvaluationsPerSecond,
    warnings: t.sets[0]?.warnings ?? [],
  };
}

export const experimentCommand: Command = {
  name: 'experiment',
  summary:
    "reproduce the paper's experiments: decomposition (Table 1), reuse and replace (Tables 2-5, Figure 6)",
  usage: `Usage: decomposer experiment decomposition --model DIR --dataset NAME [options]

Decomposes the model with CI+TI+MC, CI+TI+MC-BLN and CI+TI+MC-BLN+MC-BI from one shared
observation pass, composes each set on the test set, and prints Table 1's row: the
model's top-1/top-5, then per approach the composed top-1/top-5 and the mean Jaccard
index, with decomposition and evaluation times. Saves the module sets next to the model,
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
        `Unknown experiment "${positionals[0] ?? ''}".`,
        'Use: decomposer experiment decomposition|reuse|replace --model DIR (see --help).',
        'usage',
      );
    const settings = decomposeSettings(v);
    const m = await openModel(v);
    try {
      const data = await modelDataset(v, m, json);
      const rec = await recordRun(
        v,
        {
          kind: 'decompose',
          params: {
            experiment: 'decomposition',
            model_dir: path.resolve(m.dir),
            dataset: data.info.id,
            ...settings,
          },
          quiet: json,
        },
        async () => {
          const t = await table1(m.engine, m.plan, data.train, data.test, {
            ...settings,
            classNames: data.info.classNames,
          });
          const dirs: string[] = [];
          if (!v['no-save']) for (const s of t.sets) dirs.push(await saveModuleSet(m.dir, s));
          return { t, dirs };
        },
        ({ t, dirs }) => ({ ...table1Json(t), modules_dirs: dirs }),
      );
      const { t, dirs } = rec.value;
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
        process.stdout.write(`${formatTable1(t, path.basename(path.resolve(m.dir)))}\n`);
        info(
          `composed evaluation: ${t.moduleEvaluationsPerSecond.toFixed(0)} module evaluations/s, ${t.composeRatio.toFixed(2)}x the time of n model evaluations`,
        );
        info(`saved ${file}`);
      }
      return EXIT.ok;
    } finally {
      await m.engine.close();
    }
  },
};
