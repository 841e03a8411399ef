// Long work as jobs: their kinds and statuses, progress, epochs, live power and results.
import type { Progress } from './dataset.ts';
import type { Table1View } from './decomposition.ts';
import type { ScenarioView } from './reuse.ts';
import type { FaultMade, WizardView } from './wizard.ts';

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

/** What a training made: its model folder (null when none was saved), its test accuracy and dataset. */
export interface TrainJobResult {
  modelDir: string | null;
  top1: number;
  top5: number;
  datasetId: string;
}

/**
 * The demo: its training, then Table 1 (null until the decomposition ran, and for a resumed
 * demo training) and its reuse and replace scenarios, one intra and one inter of each (null
 * until they ran, or when the demo was asked without them).
 */
export interface DemoJobResult extends TrainJobResult {
  table1: Table1View | null;
  scenarios: ScenarioView[] | null;
}

/** What each kind of job made, by kind: the one place a job's result is written. */
export interface JobResults {
  train: TrainJobResult;
  demo: DemoJobResult;
  /** The downloaded file, or the folder of a release of several files. */
  download: { path: string };
  /** The imported dataset. */
  import: { datasetId: string };
  /** Table 1 for the model, its module sets saved next to it. */
  decompose: { modelDir: string; datasetId: string; table1: Table1View };
  /** The scenario's row, beside its train-from-scratch baseline. */
  scenario: { scenario: ScenarioView };
  /** The faulty demo model, the clean model trained beside it (option 1's better model; null when not asked for) and the fault. */
  faulty: { modelDir: string; datasetId: string; betterDir: string | null; fault: FaultMade };
  /** The comparison of the repair options (Table 6) and the recommendation. */
  wizard: { modelDir: string; datasetId: string; wizard: WizardView };
}

export type JobKind = keyof JobResults;
export type JobResult<K extends JobKind = JobKind> = JobResults[K];

/** What every job has, whatever its kind. */
export interface JobBase {
  id: string;
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
}

/**
 * A job, its result its kind's (null until it finished, or when it made nothing): checking
 * `kind` tells which result it holds.
 */
export type JobInfo = { [K in JobKind]: JobBase & { kind: K; result: JobResults[K] | null } }[JobKind];

/** A job of one of the kinds K. */
export type JobOf<K extends JobKind> = Extract<JobInfo, { kind: K }>;

/** A finished job's result, its kind's; null while it runs, or when it failed or was cancelled. */
export function finishedResult<J extends JobInfo>(job: J | null | undefined): J['result'] | null {
  return job?.status === 'finished' ? job.result : null;
}

/** Whether a job is of one of `kinds` (narrows its result to theirs). */
export function isJobOf<K extends JobKind>(job: JobInfo, kinds: readonly K[]): job is JobOf<K> {
  return (kinds as readonly JobKind[]).includes(job.kind);
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
