// Decomposition (Table 1) and reuse/replace scenario jobs.
import type { Job, JobManager } from './jobs.ts';
import path from 'node:path';
import type { DecomposeParams, JobInfo, ScenarioParams } from '../../common/api.ts';
import { runDecomposition, runScenario, type AnalysisContext } from './analysis.ts';
import { innerTraining } from './training-jobs.ts';

export function analysisContext(runner: JobManager, job: Job): AnalysisContext {
  return {
    home: runner.o.home,
    store: runner.o.store(),
    engine: runner.o.engine(),
    signal: job.controller.signal,
    progress: runner.progressOf(job),
    onRunId: (id) => {
      job.info.runId = id;
      runner.status(job);
    },
    setLabel: (label) => {
      job.info.label = label;
    },
    onTraining: innerTraining(runner, job),
  };
}

/** Decomposition (Table 1) of one model: its module sets are saved next to it. */
export function startDecomposition(runner: JobManager, p: DecomposeParams): JobInfo {
  const label = `Decompose ${path.basename(path.dirname(p.modelDir))} (${p.approaches.join(', ')})`;
  return runner.start('decompose', label, async (job) => {
    const table1 = await runDecomposition(analysisContext(runner, job), p);
    return { result: { modelDir: table1.modelDir, datasetId: table1.datasetId, table1 } };
  });
}

/** One reuse or replace scenario with its train-from-scratch baseline. */
export function startScenario(runner: JobManager, p: ScenarioParams): JobInfo {
  runner.busyTraining();
  const label = `${p.kind === 'reuse' ? 'Reuse' : 'Replace'} scenario (baseline ${p.baselineEpochs} epoch${p.baselineEpochs === 1 ? '' : 's'})`;
  return runner.start('scenario', label, async (job) => {
    const scenario = await runScenario(analysisContext(runner, job), p);
    job.info.label = `${p.kind === 'reuse' ? 'Reuse' : 'Replace'}: ${scenario.classes.join(' + ').slice(0, 160)}`;
    return { result: { scenario } };
  });
}
