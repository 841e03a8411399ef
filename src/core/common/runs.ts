// Recorded runs and the experiments they belong to, with their roles.
import type { EnergyFigure } from './energy.ts';
import type { JobKind, JobStatus, PowerSample } from './jobs.ts';
import type { ScenarioView } from './reuse.ts';

/** What a run does in its experiment. */
export const RUN_ROLES = [
  'model',
  'baseline',
  'decomposition',
  'evaluation',
  'reuse',
  'replace',
  'option',
] as const;

export type RunRole = (typeof RUN_ROLES)[number];

/** What an experiment is: the runs made together for one purpose. */
export const EXPERIMENT_KINDS = [
  'demo',
  'grid',
  'scenario',
  'wizard',
  'training',
  'decomposition',
  'evaluation',
] as const;

export type ExperimentKind = (typeof EXPERIMENT_KINDS)[number];

export interface ExperimentSummary {
  id: number;
  kind: ExperimentKind;
  label: string;
  /** From its runs: running while one runs, else the worst ending. */
  status: JobStatus;
  createdAt: string;
  endedAt: string | null;
  runCount: number;
  kwh: number;
  co2eKg: number;
  co2eLbs: number;
  /** Runs whose energy is the documented estimate (no power counter). */
  estimatedRuns: number;
}

export interface ExperimentDetailView extends ExperimentSummary {
  params: unknown;
  /** Its runs, oldest first, each with its role. */
  runs: RunSummary[];
  /** The reuse and replace scenarios its runs finished, in that order. */
  scenarios: ScenarioView[];
  /** The machines its runs came from (a grid merged from a cluster's shards may have several). */
  machines: RunMachineView[];
}

/** A machine an experiment's runs came from, and how many of them. */
export interface RunMachineView {
  hostname: string;
  cpuModel: string;
  runs: number;
}

/** The scenario the wizard's faulty demo trainings serve: `${FAULTY_DEMO_SCENARIO}: faulty|better`. */
export const FAULTY_DEMO_SCENARIO = 'faulty demo';

/** What a recorded run was for, read from its role and its experiment: the one rule. */
export interface RunPurpose {
  /** The job kind it ran as (an interrupted run is listed as a job of this kind). */
  job: JobKind;
  /** What it was part of, in words, or null for a run of its own. */
  partOf: string | null;
  /** A training that can be resumed on its own from its run folder. */
  resumable: boolean;
}

export function runPurpose(r: {
  kind: string;
  role: RunRole | null;
  scenario: string | null;
  experimentKind: ExperimentKind | null;
}): RunPurpose {
  const e = r.experimentKind;
  if (e === 'wizard' && r.scenario?.startsWith(FAULTY_DEMO_SCENARIO))
    return { job: 'faulty', partOf: "the wizard's faulty demo model", resumable: false };
  if (e === 'wizard')
    return {
      job: 'wizard',
      partOf: r.role === 'option' && r.scenario ? `the fix-it wizard's ${r.scenario}` : 'the fix-it wizard',
      resumable: false,
    };
  const job: JobKind =
    r.kind === 'decompose'
      ? 'decompose'
      : r.kind === 'reuse' || r.kind === 'replace'
        ? 'scenario'
        : e === 'demo' && r.role !== 'baseline'
          ? 'demo'
          : 'train';
  if (r.role === 'baseline')
    return {
      job,
      partOf: `a scenario's train-from-scratch baseline${r.scenario ? ` (${r.scenario})` : ''}`,
      resumable: false,
    };
  if (e === 'grid' || e === 'scenario')
    return { job, partOf: 'a reuse/replace experiment', resumable: false };
  if (e === 'demo' && r.kind !== 'train') return { job, partOf: 'the demo', resumable: false };
  return { job, partOf: null, resumable: r.kind === 'train' && (r.role === 'model' || r.role === null) };
}

export interface RunSummary {
  id: number;
  kind: string;
  label: string | null;
  /** The experiment the run belongs to, its kind, the run's role there, and the scenario it serves. */
  experimentId: number | null;
  experimentKind: ExperimentKind | null;
  role: RunRole | null;
  scenario: string | null;
  status: JobStatus;
  error: string | null;
  params: unknown;
  startedAt: string;
  endedAt: string | null;
  seconds: number | null;
  backend: string | null;
  epochsDone: number;
  bestEpoch: number | null;
  result: unknown;
  energy: EnergyFigure | null;
  energyFixedEpochs: EnergyFigure | null;
  energyUntilBest: EnergyFigure | null;
}

export interface RunDetailView extends RunSummary {
  epochs: {
    epoch: number;
    loss: number | null;
    accuracy: number | null;
    valAccuracy: number | null;
    seconds: number | null;
    best: boolean;
  }[];
  /** The power trace, downsampled. */
  power: PowerSample[];
  powerSources: string[];
  /** The later training that continued this one in its run folder (then it is not resumable). */
  continuedBy: number | null;
}
