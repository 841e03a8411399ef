// The job runner: long work started from a shell (train, demo, dataset download or import)
// runs here, in the core's process, with a unique id, progress pushed to subscribers as
// ProgressEvents, cancel through an AbortSignal, and one training at a time. Job state lives
// here, not in a page: a page that reloads asks listJobs and sees a running job still running.
// Runs found 'running' in the store at start-up whose process is gone are listed as
// interrupted jobs. The jobs themselves: training-jobs, analysis-jobs, wizard-jobs and
// dataset-jobs beside this file.
import { randomBytes } from 'node:crypto';
import { runPurpose, TRAINING_JOB_KINDS } from '../../common/api.ts';
import type { Progress } from '../../common/dataset.ts';
import type {
  BackendName,
  JobInfo,
  JobKind,
  JobOf,
  JobPayload,
  JobResult,
  JobStatus,
  ProgressEvent,
} from '../../common/api.ts';
import { UserError } from '../../common/errors.ts';
import type { Store } from '../store/store.ts';

export interface JobManagerOptions {
  home: string;
  store: () => Store;
  /** Backend and worker count in force (settings over the shell's choice). */
  engine: () => { backend: BackendName | null; workers: number | undefined };
  emit: (event: ProgressEvent) => void;
}

/** A job under way, of any kind: its state as the shells see it, and how to cancel and await it. */
export interface Job {
  info: JobInfo;
  controller: AbortController;
  done: Promise<void>;
}

/** A job of kind K under way: its work gives that kind's result. */
export interface TypedJob<K extends JobKind> extends Job {
  info: JobOf<K>;
}

/** What a job's work ends with: its kind's result, and (a training) whether it finished or was cancelled. */
export interface JobOutcome<K extends JobKind> {
  status?: 'finished' | 'cancelled';
  result: JobResult<K>;
}

function newJobId(): string {
  return `job-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export class JobManager {
  readonly o: JobManagerOptions;
  private readonly jobs = new Map<string, Job>();
  private readonly interrupted: JobInfo[] = [];

  constructor(o: JobManagerOptions) {
    this.o = o;
  }

  /** Runs the store marked interrupted when it opened, listed as jobs. */
  noteInterrupted(store: Store): void {
    for (const id of store.interruptedAtOpen) {
      const run = store.runs.get(id);
      if (!run) continue;
      this.interrupted.push({
        id: `run-${id}`,
        kind: runPurpose({ ...run, experimentKind: run.experiment_kind }).job,
        status: 'interrupted',
        label: run.label ?? `Run ${id}`,
        startedAt: run.started_at,
        endedAt: run.ended_at,
        runId: id,
        progress: null,
        etaSeconds: null,
        epochs: [],
        power: [],
        energySource: run.energy?.source ?? null,
        error: 'The app stopped while this run was going; finished epochs are kept.',
        result: null,
      });
    }
  }

  list(): JobInfo[] {
    const live = [...this.jobs.values()].map((j) => structuredClone(j.info));
    return [...live.reverse(), ...this.interrupted];
  }

  get(id: string): JobInfo | null {
    const j = this.jobs.get(id);
    return j ? structuredClone(j.info) : null;
  }

  cancel(id: string): boolean {
    const j = this.jobs.get(id);
    if (!j || j.info.status !== 'running') return false;
    j.controller.abort(new UserError('Cancelled.', 'Start it again when you want.', 'cancelled'));
    return true;
  }

  /** Waits for every running job (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done));
  }

  cancelAll(): void {
    for (const id of this.jobs.keys()) this.cancel(id);
  }

  event(job: Job, payload?: JobPayload): void {
    const i = job.info;
    this.o.emit({
      jobId: i.id,
      kind: i.kind,
      status: i.status,
      progress: i.progress ?? { stage: i.status, fraction: null },
      ...(payload ? { payload } : {}),
    });
  }

  status(job: Job): void {
    this.event(job, { type: 'status', job: structuredClone(job.info) });
  }

  start<K extends JobKind>(
    kind: K,
    label: string,
    run: (job: TypedJob<K>) => Promise<JobOutcome<K>>,
  ): JobOf<K> {
    // Every kind starts the same, its result null until the work gives it (the one cast:
    // TypeScript cannot tell that a literal of a generic kind K is a job of kind K).
    const info = {
      id: newJobId(),
      kind,
      status: 'running',
      label,
      startedAt: new Date().toISOString(),
      endedAt: null,
      runId: null,
      progress: { stage: 'Starting', fraction: 0 },
      etaSeconds: null,
      epochs: [],
      power: [],
      energySource: null,
      error: null,
      result: null,
    } as unknown as JobOf<K>;
    const job: TypedJob<K> = { info, controller: new AbortController(), done: Promise.resolve() };
    this.jobs.set(info.id, job);
    job.done = (async () => {
      // Let the caller receive the job before its first event.
      await new Promise((r) => setImmediate(r));
      this.status(job);
      try {
        const outcome = await run(job);
        Object.assign(info, outcome);
        if (info.status === 'running') info.status = job.controller.signal.aborted ? 'cancelled' : 'finished';
      } catch (e) {
        if (job.controller.signal.aborted) info.status = 'cancelled';
        else {
          info.status = 'failed';
          info.error = describe(e);
        }
      }
      info.endedAt = new Date().toISOString();
      info.etaSeconds = null;
      info.progress = {
        stage: info.status === 'finished' ? 'Done' : info.status === 'cancelled' ? 'Cancelled' : 'Failed',
        fraction: info.status === 'finished' ? 1 : (info.progress?.fraction ?? null),
      };
      this.status(job);
    })();
    return structuredClone(info);
  }

  /** A progress callback that shows `p` as the job's progress. */
  progressOf(job: Job): (p: Progress) => void {
    return (p) => {
      job.info.progress = p;
      this.event(job);
    };
  }

  busyTraining(): void {
    for (const j of this.jobs.values())
      if (TRAINING_JOB_KINDS.includes(j.info.kind) && j.info.status === 'running')
        throw new UserError(
          `A training job is already running (${j.info.label}).`,
          'Wait for it to finish or cancel it, then start this one.',
          'busy',
        );
  }
}

/** Which job a run found interrupted belonged to, from its kind and parameters. */
function describe(e: unknown): string {
  if (e instanceof Error && e.name === 'UserError') return `${e.message} ${(e as UserError).hint}`.trim();
  return e instanceof Error ? e.message : String(e);
}

export type { JobStatus };
