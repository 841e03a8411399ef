// decomposer decompose: build one module per class of a trained model (CI, TI, MC,
// MC-BLN, MC-BI), save them next to the model, list, export or delete saved module sets.
import path from 'node:path';
import type { Command } from '../command.ts';
import {
  DECOMPOSE_OPTIONS,
  DECOMPOSE_USAGE,
  decomposeSettings,
  modelDataset,
  openModel,
  recordRun,
} from '../models.ts';
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
  parseApproach,
  saveModuleSet,
} from '../../core/node/decompose/index.ts';
import { planModel } from '../../core/node/graph/plan.ts';
import { DEFAULT_PREPROCESS, readModelDir } from '../../core/node/models/io.ts';

/** The RUN that names the newest saved module set (--export latest, --export-onnx latest). */
const LATEST = 'latest';

export const decomposeCommand: Command = {
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
  async run(v, positionals) {
    const json = Boolean(v.json);
    if (v.list || v.export || v.delete || v['export-onnx']) {
      const dir = v.model as string | undefined;
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
      if (v.list) {
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
      } else if (v['export-onnx']) {
        const out = positionals[0];
        if (!out)
          throw new UserError(
            'No folder to export into.',
            'Write it after the run: --export-onnx RUN OUTDIR.',
            'usage',
          );
        const plan = planModel(read.artifacts);
        const set = await loadModuleSet(await runDir(v['export-onnx'] as string), { plan });
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
      } else if (v.export) {
        const set = await loadModuleSet(await runDir(v.export as string), {
          plan: planModel(read.artifacts),
        });
        printJson(exportRemoved(set));
      } else {
        await deleteModuleSet(named(v.delete as string));
        if (json) printJson({ deleted: v.delete });
        else print(`deleted ${v.delete as string}`);
      }
      return EXIT.ok;
    }
    const approach = parseApproach((v.approach as string | undefined) ?? DEFAULT_APPROACH);
    const settings = decomposeSettings(v);
    const m = await openModel(v);
    try {
      const data = await modelDataset(v, m);
      const signal = interruptSignal();
      const rec = await recordRun(
        v,
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
