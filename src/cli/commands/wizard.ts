// decomposer wizard: find a model's most-confused pair, repair it (options 1-4), measure each
// repair's time and energy, compare, recommend, and save the repaired classifier.
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import type { Command } from '../main.ts';
import { intOption } from '../main.ts';
import { EXIT, fmtPct, info, interruptSignal, printJson } from '../output.ts';
import { ENERGY_OPTIONS, ENERGY_USAGE, ENGINE_OPTIONS, ENGINE_USAGE, engineSettings } from './train.ts';
import { modelDataset, openModel } from './decompose.ts';
import { dbFile } from './energy.ts';
import { measureGridIdle } from './grid.ts';
import { UserError } from '../../core/common/errors.ts';
import type { LoadedDataset } from '../../core/common/dataset.ts';
import { confusablePair, loadDataset } from '../../core/node/data/index.ts';
import { cacheDir } from '../../core/node/paths.ts';
import { recordTrainingRun } from '../../core/node/jobs/record.ts';
import { Store } from '../../core/node/store/store.ts';
import { effectiveSettings } from '../../core/node/store/settings.ts';
import { train } from '../../core/node/train/trainer.ts';
import { DEFAULT_FAULT_FRACTION, makeFaultyDataset, runWizard } from '../../core/node/wizard/index.ts';

export const WIZARD_DEMO = {
  depth: 8,
  perClass: 200,
  testPerClass: 50,
  epochs: 3,
  batch: 32,
  decomposePerClass: 50,
};

function classOption(v: Record<string, unknown>, key: string, names: string[]): number | undefined {
  const s = v[key] as string | undefined;
  if (s === undefined) return undefined;
  const byName = names.indexOf(s);
  if (byName >= 0) return byName;
  const n = Number(s);
  if (Number.isInteger(n) && n >= 0 && n < names.length) return n;
  throw new UserError(
    `--${key} "${s}" is not a class of the dataset.`,
    `Use an index 0..${names.length - 1} or one of: ${names.join(', ')}.`,
    'usage',
  );
}

export const wizardCommand: Command = {
  name: 'wizard',
  summary: 'find a model’s most-confused pair and repair it four ways, measured and compared',
  usage: `Usage: decomposer wizard --model DIR [--faulty A --victim B] [--options 1,2,3,4] [options]
       decomposer wizard --demo [options]

  -m, --model DIR     the faulty model (default faulty/victim: its most-confused pair on the test set)
  --dataset NAME      its dataset (default: the one it was trained on)
  --faulty A          the class that swallows (index or name); --victim B the class swallowed
  --options LIST      which repairs (default 1,2,3,4):
                        1 replace the faulty module with a better model's (--better DIR, or --train-better)
                        2 replace it with the module of a model trained on just the two classes
                        3 remove the faulty module
                        4 keep the model; re-decide its predictions of the two classes with option 2's modules
  --better DIR        option 1's better model (same classes and image size)
  --train-better      option 1 without --better: train the same architecture longer (--better-epochs N, default 10)
  --pair-epochs N     epochs of the two-class model (default 3); --pair-depth N (default 8); --batch N (default 32)
  --decompose-per-class N  images per class each decomposition observes (default 100)
  --save NAME         save the recommended option (or --save-option N) as a folder NAME under --out
  -o, --out DIR       where models train and the repaired classifier is saved (default: a new temporary folder)
  --demo              make a faulty ResNet-8 on the embedded "shapes" (${Math.round(DEFAULT_FAULT_FRACTION * 100)}% of star-5's training
                      images labelled star-6), and a clean one as option 1's better model, then run all four
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
    seed: { type: 'string' },
    inference: { type: 'string' },
    ...ENGINE_OPTIONS,
    ...ENERGY_OPTIONS,
  },
  async run(v) {
    const json = Boolean(v.json);
    const say = (l: string) => (json ? undefined : info(l));
    const eng = engineSettings(v);
    const seed = intOption(v, 'seed', 1);
    const batch = intOption(v, 'batch', WIZARD_DEMO.batch, 1);
    const options = String(v.options ?? '1,2,3,4')
      .split(',')
      .map((s) => Number(s.trim()));
    const out = path.resolve(
      (v.out as string | undefined) ?? (await mkdtemp(path.join(os.tmpdir(), 'decomposer-wizard-'))),
    );
    const signal = interruptSignal();
    const store = Store.open(dbFile(v));
    try {
      const settings = effectiveSettings(store, {
        idleSeconds: v['idle-seconds'] === undefined ? undefined : intOption(v, 'idle-seconds', 10, 0),
      });
      const idle = await measureGridIdle(settings, json);
      let model = v.model as string | undefined;
      let data: LoadedDataset;
      let better = (v.better as string | undefined) ?? null;
      let faulty: number | undefined;
      let victim: number | undefined;
      let fault: unknown = null;
      if (v.demo) {
        data = await loadDataset(
          {
            kind: 'synthetic',
            name: 'shapes',
            size: 32,
            seed,
            trainPerClass: intOption(v, 'per-class', WIZARD_DEMO.perClass, 2),
            testPerClass: WIZARD_DEMO.testPerClass,
          },
          { cacheDir: cacheDir(eng.home) },
        );
        [victim, faulty] = confusablePair('shapes');
        const bad = makeFaultyDataset(data, victim, faulty, DEFAULT_FAULT_FRACTION, seed);
        fault = { victim, faulty, fraction: DEFAULT_FAULT_FRACTION, relabelled: bad.relabelled.length };
        const trainOne = async (name: string, d: LoadedDataset) => {
          say(`demo: training ${name} ResNet-${WIZARD_DEMO.depth} on ${d.info.name}…`);
          const t = await recordTrainingRun({
            store,
            settings,
            idle,
            params: { wizard: true, demo: name, dataset: d.info.id },
            label: `wizard demo ${name}`,
            work: (onEvent) =>
              train({
                runDir: path.join(out, name),
                data: d,
                workers: eng.workers,
                backend: eng.backend,
                signal,
                onEvent,
                config: { depth: WIZARD_DEMO.depth, epochs: WIZARD_DEMO.epochs, batchSize: batch, seed },
              }),
          });
          if (!t.result.modelDir || t.result.status !== 'finished')
            throw new UserError('Training was cancelled.', 'Run the wizard again.', 'cancelled');
          return t.result.modelDir;
        };
        model = await trainOne('faulty', bad.data);
        if (options.includes(1) && !better) better = await trainOne('clean', data);
      } else {
        const m = await openModel(v);
        data = await modelDataset(v, m, json);
        await m.engine.close();
        model = m.dir;
        faulty = classOption(v, 'faulty', data.info.classNames);
        victim = classOption(v, 'victim', data.info.classNames);
      }
      const res = await runWizard(
        {
          model: model!,
          data,
          faulty,
          victim,
          options,
          better,
          trainBetter: v['train-better'] ? { epochs: intOption(v, 'better-epochs', 10, 1) } : null,
          decompose: {
            perClass: intOption(v, 'decompose-per-class', v.demo ? WIZARD_DEMO.decomposePerClass : 100, 1),
          },
          pairTrain: {
            depth: intOption(v, 'pair-depth', 8, 8),
            epochs: intOption(v, 'pair-epochs', WIZARD_DEMO.epochs, 1),
            batchSize: batch,
          },
          seed,
          save:
            v.save || v.demo
              ? {
                  dir: out,
                  name: (v.save as string | undefined) ?? 'repaired',
                  option: v['save-option'] === undefined ? undefined : intOption(v, 'save-option', 1, 1),
                }
              : null,
          inference: ((v.inference as string | undefined) ?? 'auto') as 'auto',
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
        },
      );
      if (json) printJson({ ...res, model, out, ...(fault ? { fault } : {}) });
      else {
        const pct = (x: number) => fmtPct(x).padStart(7);
        info(`\nfault: ${res.victim.name} predicted as ${res.faulty.name} (victim -> faulty)`);
        info(`${'row'.padEnd(46)}   top-1   top-5 confusion  others   CO2e lbs`);
        const line = (
          name: string,
          a: { top1: number; top5: number; confusion: number; other_top1: number },
          co2?: number,
        ) =>
          info(
            `${name.padEnd(46)} ${pct(a.top1)} ${pct(a.top5)}   ${pct(a.confusion)} ${pct(a.other_top1)}  ${co2 === undefined ? '' : co2.toExponential(2)}`,
          );
        line('initial model', res.initial);
        line('composed modules', res.composed, res.decomposition.co2e_lbs);
        for (const o of res.options) line(`option ${o.option}: ${o.label}`, o, o.co2e_lbs);
        for (const s of res.skipped) info(`option ${s.option} skipped: ${s.reason}`);
        if (res.recommendation) info(`\nrecommended: ${res.recommendation.reason}`);
        if (res.saved) info(`saved in ${res.saved}`);
      }
      return EXIT.ok;
    } finally {
      store.close();
    }
  },
};
