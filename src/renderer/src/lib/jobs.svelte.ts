// The page's view of the core's jobs: filled from listJobs (so a reloaded page sees a running
// job still running) and kept current by progress events. State lives in the core; this is a
// mirror of it.
import {
  isJobOf,
  TRAINING_JOB_KINDS,
  type DecomposerApi,
  type JobInfo,
  type JobKind,
  type JobOf,
  type ProgressEvent,
} from '../../../core/common/api.ts';
import { describeError } from '../../../core/common/errors.ts';

const MAX_POWER = 600;

export class JobsStore {
  jobs = $state<JobInfo[]>([]);
  error = $state<string | null>(null);
  /** Bumped when a job finishes, so pages reload their lists. */
  finishedCount = $state(0);
  private readonly api: DecomposerApi;
  private off: (() => void) | null = null;

  constructor(api: DecomposerApi) {
    this.api = api;
  }

  /** A running job that trains (the core runs one at a time), if any. */
  get training(): JobInfo | null {
    return this.jobs.find((j) => j.status === 'running' && TRAINING_JOB_KINDS.includes(j.kind)) ?? null;
  }

  get running(): JobInfo[] {
    return this.jobs.filter((j) => j.status === 'running');
  }

  find(id: string | null | undefined): JobInfo | undefined {
    return id ? this.jobs.find((j) => j.id === id) : undefined;
  }

  /** The newest job of one of these kinds (its result theirs). */
  latest<K extends JobKind>(...kinds: K[]): JobOf<K> | undefined {
    return this.jobs.find((j): j is JobOf<K> => isJobOf(j, kinds));
  }

  async start(): Promise<void> {
    this.off?.();
    this.off = this.api.onProgress((e) => this.apply(e));
    try {
      const list = await this.api.listJobs();
      // Events that arrived meanwhile are newer than the list for the same job.
      const seen = this.jobs.slice();
      this.jobs = list.map((j) => seen.find((s) => s.id === j.id) ?? j);
      for (const j of seen) if (!list.some((x) => x.id === j.id)) this.jobs.unshift(j);
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }

  stop(): void {
    this.off?.();
    this.off = null;
  }

  /** Adds a job just started (the call's answer may come after its first events). */
  add(job: JobInfo): void {
    if (!this.find(job.id)) this.jobs.unshift(job);
  }

  apply(e: ProgressEvent): void {
    const p = e.payload;
    if (p?.type === 'status') {
      const i = this.jobs.findIndex((j) => j.id === e.jobId);
      const wasRunning = i >= 0 && this.jobs[i]!.status === 'running';
      if (i >= 0) this.jobs[i] = p.job;
      else this.jobs.unshift(p.job);
      if (p.job.status !== 'running' && (wasRunning || i < 0)) this.finishedCount++;
      return;
    }
    const job = this.find(e.jobId);
    if (!job) return;
    job.progress = e.progress;
    if (e.status) job.status = e.status;
    if (p?.type === 'batch') job.etaSeconds = p.etaSeconds;
    else if (p?.type === 'epoch') {
      if (!job.epochs.some((x) => x.epoch === p.metrics.epoch)) job.epochs.push(p.metrics);
    } else if (p?.type === 'power') {
      job.power.push(p.sample);
      if (job.power.length > MAX_POWER) job.power.splice(0, job.power.length - MAX_POWER);
    }
  }
}

export interface PageJob<K extends JobKind, A extends unknown[]> {
  /** The job this page started, else the newest of its kinds (a reloaded page shows it). */
  readonly job: JobOf<K> | undefined;
  /** Why the last start was refused, said for the user; null otherwise. */
  readonly error: string | null;
  /** The id of the job this page started, if any. */
  readonly id: string | null;
  /** Starts one; null (and `error` set) when the core refused it. */
  start(...args: A): Promise<JobOf<K> | null>;
}

/**
 * A page's job of these kinds, started the same way on every page (`store`: the page's jobs
 * prop); its result is typed as its kind's.
 */
export function useJob<K extends JobKind, A extends unknown[]>(
  store: () => JobsStore,
  kinds: K[],
  start: (...args: A) => Promise<JobOf<K>>,
): PageJob<K, A> {
  let id = $state<string | null>(null);
  let error = $state<string | null>(null);
  const job = $derived.by(() => {
    const mine = store().find(id);
    return mine && isJobOf(mine, kinds) ? mine : store().latest(...kinds);
  });
  return {
    get job() {
      return job;
    },
    get error() {
      return error;
    },
    get id() {
      return id;
    },
    async start(...args: A): Promise<JobOf<K> | null> {
      error = null;
      try {
        const j = await start(...args);
        store().add(j);
        id = j.id;
        return j;
      } catch (e) {
        error = describeError(e);
        return null;
      }
    },
  };
}
