// The fix-it wizard's jobs: the faulty demo model, the repair run, and saving a repair.
import type { JobManager } from './jobs.ts';
import { innerTraining, loadSpec, runTraining } from './training-jobs.ts';
import type { WizardOutcome } from '../workflows/wizard.ts';
import path from 'node:path';
import type {
  FaultyDemoParams,
  RepairedSummary,
  SaveRepairParams,
  WizardParams,
  JobOf,
} from '../../common/api.ts';
import { DEMO_DEFAULTS } from '../demo.ts';
import { FAULTY_DEMO_SCENARIO } from '../../common/api.ts';
import { UserError } from '../../common/errors.ts';
import { repairedDir, wizardDir } from '../paths.ts';
import { idlePowers } from '../measure/measured.ts';
import { FAULTY_DEMO_DEFAULTS, makeFaultyDemo, readRepairedManifest } from '../wizard/index.ts';
import { runWizard, saveWizardOption } from '../workflows/wizard.ts';
import { repairedView, wizardView } from '../views.ts';
import { effectiveSettings } from '../store/settings.ts';
import { analysisContext, modelAndData } from './analysis-jobs.ts';

/** Finished wizard runs whose options can still be saved (their module sets stay in memory). */
const KEPT_WIZARD_RUNS = 5;

/** The wizard's faulty demo model (and a clean one, option 1's better model). */
/** Finished wizard runs whose options can still be saved, per job runner (their module sets stay in memory). */
const kept = new WeakMap<JobManager, Map<string, WizardOutcome>>();
function keptRuns(runner: JobManager): Map<string, WizardOutcome> {
  let m = kept.get(runner);
  if (!m) kept.set(runner, (m = new Map()));
  return m;
}

export function startFaultyDemo(runner: JobManager, p: FaultyDemoParams = {}): JobOf<'faulty'> {
  runner.busyTraining();
  const cfg = {
    ...FAULTY_DEMO_DEFAULTS,
    ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)),
  };
  return runner.start('faulty', `Faulty demo model: ResNet-${cfg.depth} on embedded shapes`, async (job) => {
    const signal = job.controller.signal;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const base = path.join(wizardDir(runner.o.home), `demo-${stamp}`);
    // Its trainings are one wizard experiment, each serving the faulty demo.
    const experimentId = runner.o.store().experiments.start({
      kind: 'wizard',
      label: `Faulty demo model: ResNet-${cfg.depth} on embedded shapes`,
      params: cfg,
    });
    const demo = await makeFaultyDemo(cfg, {
      loadData: (spec) =>
        loadSpec(runner, spec, signal, (pr) => {
          job.info.progress = { stage: `Loading dataset: ${pr.stage}`, fraction: pr.fraction };
          runner.event(job);
        }),
      trainModel: async (name, data, config) => {
        job.info.epochs = [];
        const r = await runTraining(runner, job, async () => data, config, {
          params: { wizard_demo: name },
          experimentId,
          scenario: `${FAULTY_DEMO_SCENARIO}: ${name}`,
          label: `Faulty demo: the ${name} model (${name === 'faulty' ? '1' : '2'}/${cfg.better ? 2 : 1}), ResNet-${config.depth} on ${data.info.name}`,
          runDir: path.join(base, name),
        });
        if (r.status !== 'finished' || !r.result.modelDir)
          throw new UserError('Training was cancelled.', 'Make the demo model again.', 'cancelled');
        return r.result.modelDir;
      },
    });
    const f = demo.fault;
    job.info.label = `Faulty demo model: ${Math.round(f.fraction * 100)}% of ${f.victimName} labelled ${f.faultyName} (ResNet-${cfg.depth})`;
    return {
      result: {
        modelDir: demo.faultyDir,
        datasetId: demo.data.info.id,
        betterDir: demo.betterDir,
        fault: f,
      },
    };
  });
}

/** The chosen repair options, each measured; the result is the comparison (Table 6). */
export function startWizard(runner: JobManager, p: WizardParams): JobOf<'wizard'> {
  const runs = keptRuns(runner);
  runner.busyTraining();
  const label = `Fix-it wizard: options ${p.options.join(', ')}`;
  return runner.start('wizard', label, async (job) => {
    const ctx = analysisContext(runner, job);
    const { dir, data } = await modelAndData(ctx, p.modelDir, p.dataset);
    const names = data.info.classNames;
    for (const c of [p.faulty, p.victim])
      if (c >= names.length)
        throw new UserError(
          `Class ${c} is not a class of the model (0..${names.length - 1}).`,
          'Pick the faulty and victim classes among the model’s classes.',
          'usage',
        );
    job.info.label = `Fix-it wizard: ${names[p.victim]} called ${names[p.faulty]} (options ${p.options.join(', ')})`;
    const store = runner.o.store();
    const settings = effectiveSettings(store.settings);
    const engine = runner.o.engine();
    if (settings.idleSeconds > 0)
      ctx.progress({ stage: `Measuring idle power for ${settings.idleSeconds} s`, fraction: 0 });
    const idle = await idlePowers(settings);
    // Progress: one step per line the wizard reports (fault, decompositions, trainings, options).
    const pair = p.options.includes(2) || p.options.includes(4);
    const better = p.options.includes(1) && (p.betterModel || p.betterEpochs);
    const steps = 2 + (pair ? 2 : 0) + (better ? (p.betterModel ? 1 : 2) : 0) + p.options.length;
    let done = 0;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const outcome = await runWizard(
      {
        model: dir,
        data,
        faulty: p.faulty,
        victim: p.victim,
        options: p.options,
        better: p.betterModel ?? null,
        trainBetter: !p.betterModel && p.betterEpochs ? { epochs: p.betterEpochs } : null,
        decompose: { perClass: p.perClass },
        pairTrain: { depth: p.pairDepth, epochs: p.pairEpochs, batchSize: DEMO_DEFAULTS.batch },
        seed: p.seed,
      },
      {
        store,
        settings,
        idle,
        workDir: path.join(wizardDir(runner.o.home), `run-${stamp}`),
        workers: engine.workers,
        backend: engine.backend,
        signal: job.controller.signal,
        onInfo: (line) => {
          done++;
          ctx.progress({
            stage: line.replace(/…$/, '').slice(0, 200),
            fraction: Math.min(0.95, done / steps),
          });
        },
        onTraining: innerTraining(runner, job),
      },
    );
    runs.set(job.info.id, outcome);
    for (const old of [...runs.keys()].slice(0, -KEPT_WIZARD_RUNS)) runs.delete(old);
    return { result: { modelDir: dir, datasetId: data.info.id, wizard: wizardView(outcome.result) } };
  });
}

/** Saves one option of a finished wizard job under <home>/repaired/<name>. */
export async function saveRepair(runner: JobManager, p: SaveRepairParams): Promise<RepairedSummary> {
  const runs = keptRuns(runner);
  const outcome = runs.get(p.jobId);
  if (!outcome)
    throw new UserError(
      runner.get(p.jobId)?.kind === 'wizard'
        ? 'That wizard run did not finish, so it has nothing to save.'
        : 'That wizard run is no longer available: the app keeps the last few runs until it closes.',
      'Run the wizard again, then save the option you want.',
      'not-found',
    );
  const dir = path.resolve(await saveWizardOption(outcome, p.option, repairedDir(runner.o.home), p.name));
  return repairedView(dir, await readRepairedManifest(dir));
}
