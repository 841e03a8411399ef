import { describe, expect, test } from 'vitest';
import { flushSync } from 'svelte';
import type { JobInfo } from '../../../core/common/api.ts';
import { JobsStore } from './jobs.svelte.ts';
import { fakeApi, job } from './test-helpers.ts';
import { toCsv } from './export.ts';

describe('JobsStore', () => {
  test('fills from listJobs, so a reloaded page sees a running job', async () => {
    const api = fakeApi({ listJobs: async () => [job({ id: 'job-1', status: 'running' })] });
    const store = new JobsStore(api);
    await store.start();
    expect(store.running.map((j) => j.id)).toEqual(['job-1']);
  });

  test('applies progress, epoch, power and status events', async () => {
    const api = fakeApi({ listJobs: async () => [job({ id: 'job-1' })] });
    const store = new JobsStore(api);
    await store.start();
    const base = { jobId: 'job-1', kind: 'train' as const, status: 'running' as const };
    api.emit({ ...base, progress: { stage: 'Training epoch 1/2', fraction: 0.25 } });
    api.emit({
      ...base,
      progress: { stage: 'Training epoch 1/2', fraction: 0.5 },
      payload: {
        type: 'epoch',
        metrics: { epoch: 1, epochs: 2, loss: 2, accuracy: 0.3, valAccuracy: 0.25, seconds: 1, best: true },
      },
    });
    api.emit({
      ...base,
      progress: { stage: 's', fraction: 0.5 },
      payload: { type: 'power', sample: { t: 1, cpuW: 10, dramW: 1, gpuW: 0 } },
    });
    flushSync();
    const j = store.find('job-1')!;
    expect(j.progress?.fraction).toBe(0.5);
    expect(j.epochs).toHaveLength(1);
    expect(j.power).toHaveLength(1);
    const done: JobInfo = { ...j, status: 'finished' };
    api.emit({
      ...base,
      status: 'finished',
      progress: { stage: 'Done', fraction: 1 },
      payload: { type: 'status', job: done },
    });
    expect(store.find('job-1')?.status).toBe('finished');
    expect(store.finishedCount).toBe(1);
    expect(store.running).toHaveLength(0);
  });

  test('ignores events of unknown jobs unless they carry the job', async () => {
    const api = fakeApi();
    const store = new JobsStore(api);
    await store.start();
    api.emit({ jobId: 'job-x', progress: { stage: 's', fraction: 0 } });
    expect(store.jobs).toHaveLength(0);
    api.emit({
      jobId: 'job-y',
      progress: { stage: 's', fraction: 0 },
      payload: { type: 'status', job: job({ id: 'job-y' }) },
    });
    expect(store.jobs.map((j) => j.id)).toEqual(['job-y']);
  });

  test('unsubscribes on stop', async () => {
    const api = fakeApi();
    const store = new JobsStore(api);
    await store.start();
    expect(api.listeners.size).toBe(1);
    store.stop();
    expect(api.listeners.size).toBe(0);
  });
});

test('CSV export quotes what needs quoting', () => {
  expect(
    toCsv([
      { a: 1, b: 'x,y' },
      { a: 2, b: 'say "hi"' },
    ]),
  ).toBe('a,b\r\n1,"x,y"\r\n2,"say ""hi"""\r\n');
  expect(toCsv([])).toBe('');
});

test('CSV export (the energy and models tables) writes text that looks like a formula as text', () => {
  // A run's label carries a dataset's or a class's name; a spreadsheet would run "=1+2".
  expect(
    toCsv([
      { run: 1, label: '=1+2', co2e_kg: -0.5 },
      { run: 2, label: '@SUM(A1)', co2e_kg: 1e-7 },
      { run: 3, label: '+cmd|calc,x', co2e_kg: 0 },
      { run: 4, label: '-2', co2e_kg: null },
    ]),
  ).toBe("run,label,co2e_kg\r\n1,'=1+2,-0.5\r\n2,'@SUM(A1),1e-7\r\n3,\"'+cmd|calc,x\",0\r\n4,'-2,\r\n");
});
