// decomposer wizard: find a model's most-confused pair, repair it (options 1-4), measure each
// repair's time and energy, compare, recommend, and save the repaired classifier.
import type { Command } from '../command.ts';
import { modelDataset, openModel } from '../models.ts';
import {
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  ENGINE_USAGE,
  INFERENCE_ARG,
  listOf,
  withEngine,
  withMeasureContext,
  type EngineSettings,
} from '../options.ts';
import { measureGridIdle } from '../scenarios.ts';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { EXIT, fmtAmount, fmtPct, formatTable, info, interruptSignal, print, printJson } from '../output.ts';
import { UserError } from '../../core/common/errors.ts';
import {
  BATCH_SIZE,
  CLASS_INDEX,
  DEPTH,
  EPOCHS,
  FAULTY_PER_CLASS,
  SAMPLE_PER_CLASS,
  SEED,
  parseBounded,
} from '../../core/common/bounds.ts';
import type { FaultyDemoParams, WizardParams } from '../../core/common/api.ts';
import { PATH, v } from '../../core/common/schema.ts';
import { WIZARD_OPTIONS, type WizardOption } from '../../core/common/wizard.ts';
import type { LoadedDataset } from '../../core/common/dataset.ts';
import { loadDataset } from '../../core/node/data/index.ts';
import { cacheDir } from '../../core/node/paths.ts';
import { trainAndRecord } from '../../core/node/measure/training.ts';
import { DEMO_DEFAULTS } from '../../core/node/demo.ts';
import {
  DEFAULT_FAULT_FRACTION,
  FAULTY_DEMO_DEFAULTS,
  makeFaultyDemo,
} from '../../core/node/wizard/index.ts';
import {
  PAIR_DEFAULTS,
  runWizard,
  saveWizardOption,
  type WizardResult,
} from '../../core/node/workflows/wizard.ts';
import type { IdlePowers } from '../../core/node/energy/formula.ts';
import type { MeasureContext } from '../../core/node/measure/measured.ts';

/** --faulty and --victim: a class of the dataset, by name or index. */
function classOption(given: string | undefined, flag: string, names: string[]): number | undefined {
  if (given === undefined) return undefined;
  const byName = names.indexOf(given);
  if (byName >= 0) return byName;
  const n = parseBounded(given, CLASS_INDEX);
  if (n !== null && n < names.length) return n;
  throw new UserError(
    `decomposer wizard: --${flag}: must be a class of the dataset (got "${given.slice(0, 40)}").`,
    `Use an index 0..${names.length - 1} or one of: ${names.join(', ')}.`,
    'usage',
  );
}

/** A repair option: 1, 2, 3 or 4. */
const OPTION = v.picklist(
  WIZARD_OPTIONS.map(String) as ['1', '2', '3', '4'],
  `must be one of ${WIZARD_OPTIONS.join(', ')}`,
);
const optionOf = (x: string) => Number(x) as WizardOption;

/**
 * The wizard's options: the app's wizard parameters that a command line gives before a model
 * is read (the classes are named once the dataset is known), the faulty demo's (--demo), and
 * what only the command line sets.
 */
const WIZARD_ARGS = withEngine(
  {
    model: v.optional(PATH),
    dataset: v.optional(v.string()),
    faulty: v.optional(v.string()),
    victim: v.optional(v.string()),
    options: v.optional(listOf(OPTION), WIZARD_OPTIONS.join(',')),
    better: v.optional(PATH),
    'train-better': v.optional(v.boolean(), false),
    'better-epochs': v.optional(EPOCHS.text, 10),
    'pair-epochs': v.optional(EPOCHS.text, PAIR_DEFAULTS.epochs),
    'pair-depth': v.optional(DEPTH.text, PAIR_DEFAULTS.depth),
    batch: v.optional(BATCH_SIZE.text, FAULTY_DEMO_DEFAULTS.batch),
    'decompose-per-class': v.optional(SAMPLE_PER_CLASS.text),
    save: v.optional(v.string()),
    'save-option': v.optional(OPTION),
    out: v.optional(PATH),
    demo: v.optional(v.boolean(), false),
    'per-class': v.optional(FAULTY_PER_CLASS.text, FAULTY_DEMO_DEFAULTS.perClass),
    epochs: v.optional(EPOCHS.text, FAULTY_DEMO_DEFAULTS.epochs),
    depth: v.optional(DEPTH.text, FAULTY_DEMO_DEFAULTS.depth),
    seed: v.optional(SEED.text, 1),
    inference: INFERENCE_ARG,
  },
  (o) => ({
    params: {
      options: o.options.map(optionOf),
      betterModel: o.better ?? null,
      betterEpochs: o['train-better'] ? o['better-epochs'] : null,
      pairDepth: o['pair-depth'],
      pairEpochs: o['pair-epochs'],
      perClass: o['decompose-per-class'] ?? (o.demo ? DEMO_DEFAULTS.decomposePerClass : 100),
      seed: o.seed,
    } satisfies Partial<WizardParams>,
    /** --demo: the faulty model to make first. */
    demo: o.demo
      ? ({ perClass: o['per-class'], epochs: o.epochs, depth: o.depth } satisfies FaultyDemoParams)
      : null,
    model: o.model,
    dataset: o.dataset,
    faulty: o.faulty,
    victim: o.victim,
    batch: o.batch,
    save: o.save,
    saveOption: o['save-option'] === undefined ? undefined : optionOf(o['save-option']),
    out: o.out,
    inference: o.inference,
  }),
);

export const wizardCommand: Command<v.InferOutput<typeof WIZARD_ARGS>> = {
  name: 'wizard',
  summary: 'find a model’s most-confused pair and repair it four ways, measured and compared',
  usage: `Usage: decomposer wizard --model DIR [--faulty A --victim B] [--options 1,2,3,4] [options]
       decomposer wizard --demo [options]

  -m, --model DIR     the faulty model (default faulty/victim: its most-confused pair on the test set)
  --dataset NAME      its dataset (default: the one it was trained on; tinyimagenet:PATH+folder:PATH for
                      Tiny ImageNet plus a folder of added classes, the paper's 202-class setting)
  --faulty A          the class that swallows (index or name); --victim B the class swallowed
  --options LIST      which repairs (default 1,2,3,4):
                        1 replace the faulty module with a better model's (--better DIR, or --train-better)
                        2 replace it with the module of a model trained on just the two classes
                        3 remove the faulty module
                        4 keep the model; re-decide its predictions of the two classes with option 2's modules
  --better DIR        option 1's better model (same classes and image size)
  --train-better      option 1 without --better: train the same architecture longer (--better-epochs N, default 10)
  --pair-epochs N     epochs of the two-class model (default ${PAIR_DEFAULTS.epochs}); --pair-depth N (default ${PAIR_DEFAULTS.depth}); --batch N (default 32)
  --decompose-per-class N  images per class each decomposition observes (default 100; 200 with --demo)
  --save NAME         save the recommended option (or --save-option N) as a folder NAME under --out
  -o, --out DIR       where models train and the repaired classifier is saved (default: a new temporary folder)
  --demo              make a faulty ResNet-${FAULTY_DEMO_DEFAULTS.depth} on the embedded "shapes" (${Math.round(DEFAULT_FAULT_FRACTION * 100)}% of ring's training
                      images labelled circle), and a clean one as option 1's better model, then run all four;
                      --per-class N, --epochs N, --depth N size the two models (default ${FAULTY_DEMO_DEFAULTS.perClass}, ${FAULTY_DEMO_DEFAULTS.epochs}, ${FAULTY_DEMO_DEFAULTS.depth}:
                      the demo's model, a few minutes each here)
${ENERGY_USAGE}
${ENGINE_USAGE}`,
  options: {
    model: { type: 'string', short: 'm' },
    dataset: { type: 'string' },
    faulty: { type: 'string' },
    victim: { type: 'string' },
    options: { type: 'string' },
    better: { type: 'string' },
    'train-better': { type: 'boolean', default: false },
    'better-epochs': { type: 'string' },
    'pair-epochs': { type: 'string' },
    'pair-depth': { type: 'string' },
    batch: { type: 'string' },
    'decompose-per-class': { type: 'string' },
    save: { type: 'string' },
    'save-option': { type: 'string' },
    out: { type: 'string', short: 'o' },
    demo: { type: 'boolean', default: false },
    'per-class': { type: 'string' },
    epochs: { type: 'string' },
    depth: { type: 'string' },
    seed: { type: 'string' },
    inference: { type: 'string' },
    ...ENGINE_OPTIONS,
    ...ENERGY_OPTIONS,
  },
  args: WIZARD_ARGS,
  async run(o) {
    const { json, engine: eng, params: p } = o;
    const say = info;
    const { seed, options } = p;
    const out = path.resolve(o.out ?? (await mkdtemp(path.join(os.tmpdir(), 'decomposer-wizard-'))));
    const signal = interruptSignal();
    return withMeasureContext(o.store, { signal }, async ({ store, settings, onTraining }) => {
      const idle = await measureGridIdle(settings);
      let model: string;
      let data: LoadedDataset;
      let better = p.betterModel;
      let faulty: number | undefined;
      let victim: number | undefined;
      let fault: unknown = null;
      if (o.demo) {
        const demo = await faultyDemoModel({
          ctx: { store, settings, idle, signal, onTraining },
          eng,
          out,
          batch: o.batch,
          seed,
          better: options.includes(1) && !better,
          demo: o.demo,
          say,
        });
        data = demo.data;
        model = demo.faultyDir;
        better = better ?? demo.betterDir;
        faulty = demo.fault.faulty;
        victim = demo.fault.victim;
        fault = demo.fault;
      } else {
        const m = await openModel(o.model, o.inference);
        data = await modelDataset(o.dataset, m, eng.home);
        await m.engine.close();
        model = m.dir;
        faulty = classOption(o.faulty, 'faulty', data.info.classNames);
        victim = classOption(o.victim, 'victim', data.info.classNames);
      }
      const outcome = await runWizard(
        {
          model,
          data,
          faulty,
          victim,
          options,
          better,
          trainBetter: p.betterEpochs === null ? null : { epochs: p.betterEpochs },
          decompose: { perClass: p.perClass },
          pairTrain: { depth: p.pairDepth, epochs: p.pairEpochs, batchSize: o.batch },
          seed,
          inference: o.inference,
        },
        {
          store,
          settings,
          idle,
          workDir: out,
          workers: eng.workers,
          backend: eng.backend,
          signal,
          onInfo: say,
          onTraining,
        },
      );
      const res = outcome.result;
      const saveOption = o.saveOption ?? res.recommendation?.option;
      const saved =
        (o.save || o.demo) && saveOption !== undefined
          ? await saveWizardOption(outcome, saveOption, out, o.save ?? 'repaired')
          : null;
      if (json) printJson({ ...res, saved, out, ...(fault ? { fault } : {}) });
      else {
        printComparison(res);
        if (saved) print(`saved option ${saveOption} in ${saved}`);
      }
      return EXIT.ok;
    });
  },
};

/** The comparison (Table 6) as result lines: the initial model, the composed modules, each option. */
function printComparison(res: WizardResult): void {
  type Row = { top1: number; top5: number; confusion: number; other_top1: number };
  const row = (name: string, a: Row, co2?: number) => [
    name,
    fmtPct(a.top1),
    fmtPct(a.top5),
    fmtPct(a.confusion),
    fmtPct(a.other_top1),
    co2 === undefined ? '' : fmtAmount(co2),
  ];
  print(`\nfault: ${res.victim.name} predicted as ${res.faulty.name} (victim -> faulty)`);
  print(
    formatTable(
      ['row', 'top-1', 'top-5', 'confusion', 'others', 'CO2e lbs'],
      [
        row('initial model', res.initial),
        row('composed modules', res.composed, res.decomposition.co2e_lbs),
        ...res.options.map((o) => row(`option ${o.option}: ${o.label}`, o, o.co2e_lbs)),
      ],
      [1, 2, 3, 4, 5],
    ),
  );
  for (const s of res.skipped) print(`option ${s.option} skipped: ${s.reason}`);
  if (res.recommendation) print(`\nrecommended: ${res.recommendation.reason}`);
}

/** `--demo`: the faulty demo model (and a clean one for option 1), trained and recorded. */
function faultyDemoModel(o: {
  ctx: MeasureContext & { idle: IdlePowers };
  eng: EngineSettings;
  out: string;
  batch: number;
  seed: number;
  better: boolean;
  demo: Required<Pick<FaultyDemoParams, 'perClass' | 'epochs' | 'depth'>>;
  say: (line: string) => void;
}) {
  const { ctx, eng, out, say } = o;
  return makeFaultyDemo(
    {
      ...FAULTY_DEMO_DEFAULTS,
      ...o.demo,
      batch: o.batch,
      seed: o.seed,
      better: o.better,
    },
    {
      loadData: (spec) => loadDataset(spec, { cacheDir: cacheDir(eng.home) }),
      onInfo: say,
      trainModel: async (name, d, config) => {
        say(`demo: training the ${name} ResNet-${config.depth} on ${d.info.name}…`);
        const t = await trainAndRecord({
          ...ctx,
          runDir: path.join(out, name),
          data: d,
          config,
          workers: eng.workers,
          backend: eng.backend,
          params: { wizard: true, demo: name, dataset: d.info.id },
          label: `wizard demo ${name}`,
          cancelled: { message: 'Training was cancelled.', hint: 'Run the wizard again.' },
        });
        return t.modelDir;
      },
    },
  );
}
