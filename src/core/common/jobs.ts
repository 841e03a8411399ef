// Long work as jobs: their kinds and statuses, progress, epochs, live power and results.
import type { Progress } from './dataset.ts';
import type { Table1View } from './decomposition.ts';
import type { ScenarioView } from './reuse.ts';
import type { FaultMade, WizardView } from './wizard.ts';

export type JobKind =
  'train' | 'demo' | 'download' | 'import' | 'decompose' | 'scenario' | 'faulty' | 'wizard';

export type JobStatus = 'running' | 'finished' | 'failed' | 'cancelled' | 'interrupted';

/** Jobs that train models: the core runs one at a time (two would halve each other's speed and skew their energy). */
export const TRAINING_JOB_KINDS: readonly JobKind[] = ['train', 'demo', 'faulty', 'wizard', 'scenario'];

export const JOB_STATUSES: readonly JobStatus[] = [
  'running',
  'finished',
  'failed',
  'cancelled',
  'interrupted',
];

/** One finished training epoch. */
export interface EpochMetrics {
  epoch: number;
  epochs: number;
  loss: number;
  accuracy: number;
  valAccuracy: number;
  seconds: number;
  best: boolean;
}

/** Power over the last interval, W (CPU package, DRAM, all GPUs), t seconds since the job started. */
export interface PowerSample {
  t: number;
  cpuW: number;
  dramW: number;
  gpuW: number;
}

export interface JobInfo {
  id: string;
  kind: JobKind;
  status: JobStatus;
  label: string;
  startedAt: string;
  endedAt: string | null;
  /** The run recorded in the store (training jobs). */
  runId: number | null;
  progress: Progress | null;
  /** Seconds left, when known. */
  etaSeconds: number | null;
  epochs: EpochMetrics[];
  /** The most recent power samples (at most a few hundred). */
  power: PowerSample[];
  /** Which power source the energy figures come from; "estimate" means no counter was readable. */
  energySource: string | null;
  error: string | null;
  /** What the job made: a model folder, a dataset id, a file. */
  result: {
    modelDir?: string;
    top1?: number;
    top5?: number;
    datasetId?: string;
    path?: string;
    /** Decomposition jobs: Table 1 for the model. */
    table1?: Table1View;
    /** Reuse and replace jobs: the scenario's row. */
    scenario?: ScenarioView;
    /** The demo job: its reuse and replace scenarios (one intra and one inter of each). */
    scenarios?: ScenarioView[];
    /** Faulty demo model jobs: the clean model trained beside it (option 1's better model), and the fault. */
    betterDir?: string;
    fault?: FaultMade;
    /** Wizard jobs: the comparison (Table 6) and the recommendation. */
    wizard?: WizardView;
  } | null;
}

/** Training's progress after one batch: the trainer's event and the job payload alike. */
export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

/** A typed payload carried by a progress event. */
export type JobPayload =
  | { type: 'status'; job: JobInfo }
  | ({ type: 'batch' } & BatchProgress)
  | { type: 'epoch'; metrics: EpochMetrics }
  | { type: 'power'; sample: PowerSample };
