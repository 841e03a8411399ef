// Waiting for the core API's jobs in tests: polls listJobs as a page that reloads would.
import assert from 'node:assert/strict';
import type { DecomposerApi, JobInfo, JobKind, JobOf } from '../../src/core/common/api.ts';
import { createCoreApi, type CoreApi } from '../../src/core/node/api.ts';
import { tempDir } from './temp.ts';

/**
 * The job once `pred` holds (default: it ended), polling every 100 ms for up to `seconds`.
 * Given the job a call started (rather than its id), the answer is of that job's kind, so its
 * result is that kind's.
 */
export async function until<K extends JobKind>(
  api: Pick<DecomposerApi, 'listJobs'>,
  job: JobOf<K>,
  pred?: (j: JobOf<K>) => boolean,
  seconds?: number,
): Promise<JobOf<K>>;
export async function until(
  api: Pick<DecomposerApi, 'listJobs'>,
  id: string,
  pred?: (j: JobInfo) => boolean,
  seconds?: number,
): Promise<JobInfo>;
export async function until(
  api: Pick<DecomposerApi, 'listJobs'>,
  job: JobInfo | string,
  pred: (j: JobInfo) => boolean = (j) => j.status !== 'running',
  seconds = 600,
): Promise<JobInfo> {
  const id = typeof job === 'string' ? job : job.id;
  for (let i = 0; i < seconds * 10; i++) {
    const j = (await api.listJobs()).find((x) => x.id === id);
    if (j && typeof job !== 'string') assert.equal(j.kind, job.kind, `job ${id} changed its kind`);
    if (j && pred(j)) return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not reach the state in ${seconds} s`);
}

/** Asserts a job finished, with its error as the message otherwise. */
export const finished = (j: JobInfo): void => assert.equal(j.status, 'finished', j.error ?? '');

/** A core API on a fresh data folder (dec-NAME-…), set for tiny quick runs: no idle measurement, one engine worker. */
export async function quickApi(name: string): Promise<{ home: string; api: CoreApi }> {
  const home = tempDir(name);
  const api = createCoreApi({ home });
  await api.setSetting('idleSeconds', 0);
  await api.setSetting('workers', 1);
  return { home, api };
}
