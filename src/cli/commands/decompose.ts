// decomposer decompose: build one module per class of a trained model (CI, TI, MC,
// MC-BLN, MC-BI), save them next to the model, list, export or delete saved module sets.
import path from 'node:path';
import type { Command } from '../command.ts';
import {
  APPROACH_ARG,
  DECOMPOSE_ARGS,
  DECOMPOSE_OPTIONS,
  DECOMPOSE_USAGE,
  decomposeOf,
  modelDataset,
  openModel,
  recordRun,
} from '../models.ts';
import { withEngine } from '../options.ts';
import {
  EXIT,
  fmtSeconds,
  formatTable,
  info,
  interruptSignal,
  print,
  printJson,
  stageProgress,
} from '../output.ts';
import { printEnergy } from '../training.ts';
import { UserError } from '../../core/common/errors.ts';
import { v } from '../../core/common/schema.ts';
import {
  DEFAULT_APPROACH,
  decompose,
  deleteModuleSet,
  exportPortable,
  exportRemoved,
  listModuleSets,
  loadModuleSet,
  meanJaccard,
  meanPairwiseJaccard,
  saveModuleSet,
} from '../../core/node/decompose/index.ts';
import { planModel } from '../../core/node/graph/plan.ts';
import { DEFAULT_PREPROCESS, readModelDir } from '../../core/node/models/io.ts';

/** The RUN that names the newest saved module set (--export latest, --export-onnx latest). */
const LATEST = 'latest';

const DECOMPOSE_COMMAND_ARGS = withEngine(
  {
    ...DECOMPOSE_ARGS,
    approach: v.optional(APPROACH_ARG, DEFAULT_APPROACH),
    list: v.optional(v.boolean(), false),
    export: v.optional(v.string()),
    'export-onnx': v.optional(v.string()),
    delete: v.optional(v.string()),
  },
  (o) => ({
    model: o.model,
    dataset: o.dataset,
    approach: o.approach,
    inference: o.inference,
    list: o.list,
    export: o.export,
    exportOnnx: o['export-onnx'],
    delete: o.delete,
    // Checked with the rest before a model or dataset is read.
    decompose: decomposeOf(o, 'decompose', false),
  }),
);

export const decomposeCommand: Command<v.InferOutput<typeof DECOMPOSE_COMMAND_ARGS>> = {
  name: 'decompose',
  summary: 'decompose a trained model into one module per class (saved next to the model)',
  usage: `Usage: decomposer decompose --model DIR [options]
       decomposer decompose --model DIR --list | --export RUN | --delete RUN
       decomposer decompose --model DIR --export-onnx RUN OUTDIR

Builds one module per class ("c or not c") with CI, TI and MC / MC-BLN / MC-BI and saves
them in <model>/modules/<run-id>/ (manifest.json + modules.bin).

  --approach A        CI+TI+MC | CI+TI+MC-BLN (default) | CI+TI+MC-BLN+MC-BI (or mc, bln, bi)
${DECOMPOSE_USAGE}
  --list              list the saved module sets of the model
  --export RUN        print the removed positions of every module of a saved set (JSON); RUN is
                      an id from --list, or latest for the newest set
  --export-onnx RUN OUTDIR
                      write each module of a saved set (RUN as for --export) as a standalone
                      ONNX model (masks and two-node head baked in, preprocessing inside,
                      uint8 RGB input, one output: the concerned probability) and
                      composed.onnx with all of them (each module's probability; the argmax
                      is the composed prediction)
  --delete RUN        delete a saved module set`,
  options: {
    ...DECOMPOSE_OPTIONS,
    approach: { type: 'string' },
    list: { type: 'boolean', default: false },
    export: { type: 'string' },
    'export-onnx': { type: 'string' },
    delete: { type: 'string' },
  },
  args: DECOMPOSE_COMMAND_ARGS,
  async run(o, positionals) {
    const { json } = o;
    if (o.list || o.export || o.delete || o.exportOnnx) {
      const dir = o.model;
      if (!dir) throw new UserError('No model given.', 'Give the model folder with --model DIR.', 'usage');
      const read = await readModelDir(dir); // a file or a folder without a model is named first
      const named = (r: string) =>
        path.isAbsolute(r) || r.includes(path.sep) ? r : path.join(dir, 'modules', r);
      // Deleting names its set; exporting may take the newest.
      const runDir = async (r: string) => {
        if (r !== LATEST) return named(r);
        const newest = (await listModuleSets(dir))[0];
        if (!newest)
          throw new UserError(
            `The model in ${dir} has no saved module sets, so there is no latest one.`,
            'Run `decomposer decompose --model DIR` first.',
            'no-modules',
          );
        return newest.dir;
      };
      if (o.list) {
        const sets = await listModuleSets(dir);
        if (json) printJson({ modules: sets });
        else if (!sets.length) print('no module sets saved for this model');
        else
          print(
            formatTable(
              ['run', 'approach', 'point', 'modules', 'mean JI'],
              sets.map((s) => [s.runId, s.approach, s.point, String(s.modules), s.meanJi.toFixed(2)]),
              [3, 4],
            ),
          );
      } else if (o.exportOnnx) {
        const out = positionals[0];
        if (!out)
          throw new UserError(
            'No folder to export into.',
            'Write it after the run: --export-onnx RUN OUTDIR.',
            'usage',
          );
        const plan = planModel(read.artifacts);
        const set = await loadModuleSet(await runDir(o.exportOnnx), { plan });
        const r = await exportPortable(set, plan, read.meta?.preprocess ?? DEFAULT_PREPROCESS, out, {
          grey: read.meta?.grey ?? null,
          source: path.resolve(read.dir),
        });
        if (json) printJson(r);
        else {
          const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
          for (const m of r.modules) print(`${path.basename(m.file)}  ${mb(m.bytes)}`);
          print(`${path.basename(r.composed.file)}  ${mb(r.composed.bytes)}  (${r.modules.length} modules)`);
          print(`written to ${r.dir} (see portable.json for the input and outputs)`);
        }
      } else if (o.export) {
        const set = await loadModuleSet(await runDir(o.export), {
          plan: planModel(read.artifacts),
        });
        printJson(exportRemoved(set));
      } else {
        const run = o.delete ?? '';
        await deleteModuleSet(named(run));
        if (json) printJson({ deleted: run });
        else print(`deleted ${run}`);
      }
      return EXIT.ok;
    }
    const { approach, decompose: settings } = o;
    const m = await openModel(o.model, o.inference);
    try {
      const data = await modelDataset(o.dataset, m, o.engine.home);
      const signal = interruptSignal();
      const rec = await recordRun(
        o.store,
        {
          kind: 'decompose',
          params: { model_dir: path.resolve(m.dir), dataset: data.info.id, approach, ...settings },
          signal,
        },
        async () => {
          const [set] = await decompose(m.engine, m.plan, data.train, {
            ...settings,
            approaches: [approach],
            classNames: data.info.classNames,
            signal,
            onProgress: stageProgress(),
          });
          const dir = await saveModuleSet(m.dir, set!);
          return { set: set!, dir };
        },
        ({ set, dir }) => ({ modules_dir: dir, mean_ji: meanJaccard(set), modules: set.modules.length }),
      );
      const { set, dir } = rec.value;
      for (const w of set.warnings) info(`warning: ${w}`);
      const out = {
        modules_dir: dir,
        approach,
        modules: set.modules.map((x) => ({ class: x.className, ji: x.ji, kept: x.kept, total: x.total })),
        mean_ji: meanJaccard(set),
        mean_ji_modules: meanPairwiseJaccard(set),
        seconds: set.seconds.observe + set.seconds.build,
        warnings: set.warnings,
        run_id: rec.runId,
        energy: rec.energy.energy,
      };
      if (json) printJson(out);
      else {
        print(
          `${set.modules.length} modules (${approach}), JI module vs model ${out.mean_ji.toFixed(3)}, module vs module ${out.mean_ji_modules.toFixed(3)}, ${fmtSeconds(out.seconds)}`,
        );
        print(`saved in ${dir}`);
        printEnergy(rec.runId, rec.energy);
      }
      return EXIT.ok;
    } finally {
      await m.engine.close();
    }
  },
};
