// Recorded runs and the experiments they belong to, with their roles.
import type { EnergyFigure } from './energy.ts';
import type { JobStatus, PowerSample } from './jobs.ts';
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
}

export interface RunSummary {
  id: number;
  kind: string;
  label: string | null;
  /** The experiment the run belongs to, its role there, and the scenario it serves. */
  experimentId: number | null;
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
}
