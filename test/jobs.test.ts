// The jobs layer behind the UI: a tiny training job through the core API, with progress
// events, a run recorded in the store with energy, a model listed, cancel, and the
// interrupted status of a run whose process died.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { ProgressEvent } from '../src/core/common/api.ts';
import { createCoreApi } from '../src/core/node/api.ts';
import { Store, defaultDbFile } from '../src/core/node/store/store.ts';
import { quickApi, until } from './helpers/jobs.ts';
import { tempDir } from './helpers/temp.ts';

const tiny = (dataset: string) => ({
  dataset,
  depth: 8,
  epochs: 1,
  seed: 1,
  augment: false,
  perClass: 10,
  batchSize: 16,
});

test('a training job reports progress, records a run with energy and lists its model', async () => {
  const { api } = await quickApi('jobs');
  try {
    const events: ProgressEvent[] = [];
    api.onProgress((e) => events.push(e));
    const [shapes] = await api.listDatasets();
    const job = await api.startTraining(tiny(shapes!.id));
    assert.match(job.id, /^job-/);
    assert.equal(job.status, 'running');
    await assert.rejects(api.runDemo({ epochs: 1 }), /already running/);
    const done = await until(api, job, (j) => j.status !== 'running');
    assert.equal(done.status, 'finished', done.error ?? '');
    assert.equal(done.epochs.length, 1);
    assert.ok(done.runId);
    assert.ok(events.some((e) => e.payload?.type === 'epoch'));
    assert.ok(events.some((e) => e.payload?.type === 'status' && e.status === 'finished'));
    const runs = await api.listRuns();
    assert.equal(runs[0]!.id, done.runId);
    assert.equal(runs[0]!.status, 'finished');
    assert.ok(runs[0]!.energy && runs[0]!.energy.kwh >= 0);
    const models = await api.listModels();
    assert.equal(models.length, 1);
    const summary = await api.getEnergySummary();
    assert.equal(summary.runs.length, 1);
    assert.equal(typeof summary.runs[0]!.measured, 'boolean');
    const detail = await api.getRun(done.runId!);
    assert.equal(detail.epochs.length, 1);
  } finally {
    await api.close();
  }
});

test('a job can be cancelled, and a dead run shows as interrupted at start-up', async () => {
  const { home, api } = await quickApi('jobs');
  try {
    const [shapes] = await api.listDatasets();
    const job = await api.startTraining({ ...tiny(shapes!.id), epochs: 50 });
    await until(api, job, (j) => j.progress?.stage.startsWith('Training') ?? false);
    assert.equal(await api.cancelJob(job.id), true);
    const done = await until(api, job, (j) => j.status !== 'running');
    assert.equal(done.status, 'cancelled');
    assert.equal(await api.cancelJob('job-nope'), false);
  } finally {
    await api.close();
  }
  // A run left 'running' by a process that is gone.
  const store = Store.open(defaultDbFile(home));
  const id = store.runs.start({ kind: 'train', params: {}, label: 'killed' });
  store.db.prepare('UPDATE runs SET pid = ?, pid_start = NULL WHERE id = ?').run(2 ** 22 + 7, id);
  store.close();
  const again = createCoreApi({ home });
  try {
    const jobs = await again.listJobs();
    const j = jobs.find((x) => x.runId === id);
    assert.equal(j?.status, 'interrupted');
    assert.equal((await again.listRuns()).find((r) => r.id === id)?.status, 'interrupted');
  } finally {
    await again.close();
  }
});

test("a cancelled training resumes from its run folder, carrying the first run's energy", async () => {
  const { api } = await quickApi('jobs');
  try {
    const [shapes] = await api.listDatasets();
    const job = await api.startTraining({ ...tiny(shapes!.id), epochs: 3 });
    await until(api, job, (j) => j.epochs.length >= 1);
    assert.equal(await api.cancelJob(job.id), true);
    const cancelled = await until(api, job);
    assert.equal(cancelled.status, 'cancelled');
    const first = cancelled.runId!;
    assert.ok(first);

    const resumed = await api.resumeTraining(first);
    assert.equal(resumed.kind, 'train');
    assert.match(resumed.label, /^Resume /);
    await assert.rejects(api.resumeTraining(first), /already running/);
    const done = await until(api, resumed);
    assert.equal(done.status, 'finished', done.error ?? '');
    assert.match(done.label, /^Resume .*\(run \d+\)$/);
    assert.ok(done.runId && done.runId !== first);
    const run = await api.getRun(done.runId);
    assert.equal(run.status, 'finished');
    const result = run.result as {
      epochs_done: number;
      resumed_from: number;
      energy_carried?: { from_runs: number[] };
    };
    assert.equal(result.epochs_done, 3);
    assert.ok(result.resumed_from >= 1, `resumed from epoch ${result.resumed_from}`);
    // The new run records the epochs it trained (the earlier ones stay with the first run)
    // and shows the training's total epochs.
    assert.equal(run.epochs.length, 3 - result.resumed_from);
    assert.equal(run.epochsDone, 3);
    assert.deepEqual(result.energy_carried?.from_runs, [first]);
    const params = run.params as Record<string, unknown>;
    const before = (await api.getRun(first)).params as Record<string, unknown>;
    assert.equal(params.resumed_from_run, first);
    assert.equal(params.run_dir, before.run_dir);
    for (const k of ['dataset', 'depth', 'epochs', 'seed', 'augment', 'batchSize'])
      assert.deepEqual(params[k], before[k], k);

    // One model: its folder listed once, as the run that finished it, with its dataset's name;
    // the first run names the run that continued it.
    const models = await api.listModels();
    assert.deepEqual(
      models.map((m) => [m.runId, m.dataset]),
      [[done.runId, shapes!.name]],
    );
    assert.equal((await api.getRun(first)).continuedBy, done.runId);
    assert.equal(run.continuedBy, null);

    // Refused: the run it continued, a finished run, an unknown one.
    await assert.rejects(api.resumeTraining(first), /already continued by run \d+/);
    await assert.rejects(api.resumeTraining(done.runId), /is finished, so there is nothing to resume/);
    await assert.rejects(api.resumeTraining(9999), /There is no run 9999/);
    await assert.rejects(api.resumeTraining(1.5), /positive whole number/);
  } finally {
    await api.close();
  }
});

test('trainings that belong to another feature or lost their folder are not resumed', async () => {
  const home = tempDir('jobs');
  const store = Store.open(defaultDbFile(home));
  const dir = tempDir('rundir');
  const base = { dataset: 'synthetic-shapes-32', depth: 8, epochs: 2, seed: 1, run_dir: dir };
  // Each as its feature records it: in its experiment, in its role.
  const make = (
    params: Record<string, unknown>,
    kind: 'train' | 'decompose' = 'train',
    part: { experiment?: 'wizard' | 'grid'; role?: 'model' | 'baseline'; scenario?: string } = {},
  ) => {
    const experimentId = part.experiment
      ? store.experiments.start({ kind: part.experiment, label: part.experiment })
      : undefined;
    const id = store.runs.start({
      kind,
      params,
      label: 'x',
      experimentId,
      role: part.role,
      scenario: part.scenario,
    });
    store.db.prepare("UPDATE runs SET status = 'cancelled' WHERE id = ?").run(id);
    return id;
  };
  const wizardDemo = make({ ...base, wizard_demo: 'faulty' }, 'train', {
    experiment: 'wizard',
    scenario: 'faulty demo: faulty',
  });
  const wizard = make({ ...base, wizard: true }, 'train', { experiment: 'wizard', scenario: 'better' });
  const grid = make({ ...base, grid: 'g1', baseline: 'k' }, 'train', {
    experiment: 'grid',
    role: 'baseline',
    scenario: 'k',
  });
  const gone = make({ ...base, run_dir: path.join(dir, 'gone') });
  const noConfig = make({ dataset: 'synthetic-shapes-32', run_dir: dir });
  const decompose = make({ model: dir }, 'decompose');
  store.close();
  const api = createCoreApi({ home });
  try {
    await assert.rejects(api.resumeTraining(wizardDemo), /faulty demo model/);
    await assert.rejects(api.resumeTraining(wizard), /fix-it wizard/);
    await assert.rejects(api.resumeTraining(grid), /scenario/);
    await assert.rejects(api.resumeTraining(gone), /no longer exists/);
    await assert.rejects(api.resumeTraining(noConfig), /did not record/);
    await assert.rejects(api.resumeTraining(decompose), /not a training/);
  } finally {
    await api.close();
  }
});

test('settings are validated and persisted', async () => {
  const home = tempDir('jobs');
  const api = createCoreApi({ home });
  try {
    const s = await api.setSetting('pue', 1.2);
    assert.equal(s.pue, 1.2);
    assert.equal((await api.setSetting('backend', 'cpu')).backend, 'cpu');
    await assert.rejects(api.setSetting('pue', 0.5), /pue/);
    await assert.rejects(api.setSetting('backend', 'gpu' as never), /backend/);
    assert.equal((await api.getSettings()).dataHome, home);
    const preview = await api.previewDataset((await api.listDatasets())[0]!.id, 2);
    assert.equal(preview.images.length, preview.classNames.length * 2);
    assert.match(preview.images[0]!.src, /^data:image\/png;base64,/);
  } finally {
    await api.close();
  }
});

test('the demo job trains the embedded model, decomposes it (Table 1), then runs the reuse and replace scenarios', async () => {
  const home = tempDir('jobs');
  const api = createCoreApi({ home });
  try {
    await api.setSetting('idleSeconds', 0);
    await api.setSetting('baselineMaxEpochs', 3);
    const job = await api.runDemo({ depth: 8, epochs: 1, perClass: 6 });
    const done = await until(api, job, (j) => j.status !== 'running');
    assert.equal(done.status, 'finished', done.error ?? '');
    assert.ok(done.runId, "the training run is the job's run");
    const t = done.result?.table1;
    assert.ok(t, 'the demo decomposed its model');
    assert.deepEqual(
      t.rows.map((r) => r.approach),
      ['CI+TI+MC', 'CI+TI+MC-BLN', 'CI+TI+MC-BLN+MC-BI'],
    );
    assert.match(done.label, /^Demo/);
    // One intra and one inter scenario each of reuse and replace, with their baselines' CO2e.
    const sc = done.result?.scenarios ?? [];
    assert.deepEqual(
      sc.map((x) => `${x.scenario} ${x.kind}`),
      ['reuse intra', 'reuse inter', 'replace intra', 'replace inter'],
    );
    for (const x of sc) {
      const whole = Math.round(x.tma * x.testImages);
      assert.ok(Math.abs(x.tma * x.testImages - whole) < 1e-9, `TMA ${x.tma} counts whole images`);
      assert.ok(x.baselineFixedCo2eKg > 0, 'the baseline was measured');
    }
    // The intra replace's baseline is the demo model itself: its TMA is the model's test top-1.
    assert.equal(sc[2]!.tma, done.result?.top1);
    assert.ok(sc[0]!.ma !== undefined && sc[2]!.top1 !== undefined);
    // The intra replace's baseline is the demo model's own training: no second training.
    const runs = await api.listRuns();
    assert.equal(runs.filter((r) => r.kind === 'train' && /baseline/.test(r.label ?? '')).length, 3);
  } finally {
    await api.close();
  }
});

test("the app's demo runs on another listed dataset, its training cut to the demo's images per class", async () => {
  const home = tempDir('jobs');
  const api = createCoreApi({ home });
  try {
    await api.setSetting('idleSeconds', 0);
    const textures = (await api.listDatasets()).find((d) => d.name.startsWith('textures'))!;
    const job = await api.runDemo({
      depth: 8,
      epochs: 1,
      perClass: 4,
      scenarios: false,
      dataset: textures.id,
    });
    const done = await until(api, job, (j) => j.status !== 'running');
    assert.equal(done.status, 'finished', done.error ?? '');
    assert.match(done.label, /textures/);
    const run = await api.getRun(done.runId!);
    assert.equal((run.params as { dataset: string }).dataset, textures.id);
    assert.equal(done.result?.table1?.rows.length, 3);
    // Asked without the scenarios, its result says there are none (the page reads it as such).
    assert.equal(done.result?.scenarios, null);
  } finally {
    await api.close();
  }
});
