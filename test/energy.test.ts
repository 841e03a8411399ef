import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  addEnergy,
  energyRecord,
  kwhOf,
  KG_PER_LB,
  type EnergyRecord,
} from '../src/core/node/energy/formula.ts';
import {
  cpuTimes,
  estimateCpuWatts,
  estimateDramWatts,
  EstimateCounter,
  loadBetween,
  tdpFor,
  threadWatts,
} from '../src/core/node/energy/estimate.ts';
import { discoverRapl, RaplCounter, type FileReader } from '../src/core/node/energy/powercap.ts';
import { NvidiaCounter, parseNvidiaSmi, probeNvidia } from '../src/core/node/energy/nvidia.ts';
import { parsePowermetrics } from '../src/core/node/energy/powermetrics.ts';
import { detectSources, PowerMeter, type Sources } from '../src/core/node/energy/meter.ts';
import { Store } from '../src/core/node/store/store.ts';
import { RunRecorder } from '../src/core/node/measure/recorder.ts';
import { DEFAULT_SETTINGS } from '../src/core/node/store/settings.ts';
import { carriedEnergy, energyChain, recordTrainingRun } from '../src/core/node/measure/training.ts';
import { train } from '../src/core/node/train/trainer.ts';
import { colourDataset } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≈ ${b}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the formula matches hand-computed values (Strubell et al., as in the paper)', () => {
  // 1 h, CPU 50 W, DRAM 10 W, 2 GPUs at 100 W: 1.58 * 1 * (50 + 10 + 2*100) / 1000 = 0.4108 kWh
  close(kwhOf({ seconds: 3600, cpuW: 50, dramW: 10, gpuW: 100, gpus: 2 }), 0.4108);
  const e = energyRecord(
    { seconds: 1800, cpuW: 60, dramW: 12, gpuW: 110, gpus: 2 },
    { cpuW: 10, dramW: 2, gpuW: 10 },
    { source: 'rapl+nvidia-smi' },
  );
  // after idle: 50 + 10 + 2*100 = 260 W for 0.5 h: 1.58 * 0.5 * 260 / 1000 = 0.2054 kWh
  close(e.kwh, 0.2054);
  close(e.co2e_lbs, 0.954 * 0.2054);
  close(e.co2e_kg, 0.954 * 0.2054 * KG_PER_LB);
  assert.deepEqual(
    [e.cpu_w, e.dram_w, e.gpu_w, e.gpus, e.idle_w, e.pue, e.intensity_lbs_per_kwh],
    [50, 10, 100, 2, 32, 1.58, 0.954],
  );
  assert.deepEqual(Object.keys(e).sort(), [
    'attribution',
    'busy_cpu_s',
    'capacity_cpu_s',
    'co2e_kg',
    'co2e_lbs',
    'cpu_w',
    'dram_w',
    'gpu_w',
    'gpus',
    'idle_w',
    'intensity_lbs_per_kwh',
    'kwh',
    'pue',
    'run_cpu_s',
    'seconds',
    'source',
  ]);
  assert.equal(e.attribution, 'machine');
  // never below zero; PUE and intensity are settings
  const z = energyRecord(
    { seconds: 10, cpuW: 5, dramW: 1, gpuW: 0, gpus: 0 },
    { cpuW: 9, dramW: 3, gpuW: 0 },
    { source: 'estimate', pue: 1.1, intensity: 2 },
  );
  assert.equal(z.cpu_w, 0);
  assert.equal(z.dram_w, 0);
  assert.equal(z.kwh, 0);
  assert.equal(z.pue, 1.1);
});

test('the estimate: TDP x (0.1 + 0.9 load), 4 W per thread for unknown CPUs, 0.3725 W/GB DRAM', () => {
  assert.equal(estimateCpuWatts(100, 0), 10);
  assert.equal(estimateCpuWatts(100, 1), 100);
  close(estimateCpuWatts(100, 0.5), 55);
  // Linear, so one busy thread of eight adds its eighth of the dynamic part, whatever else runs.
  close(threadWatts(100, 8), 90 / 8);
  close(estimateCpuWatts(100, 3 / 8) - estimateCpuWatts(100, 2 / 8), threadWatts(100, 8));
  assert.equal(estimateCpuWatts(100, 7), 100);
  assert.equal(tdpFor('Intel(R) Core(TM) i7-7700K CPU @ 4.20GHz', 8).watts, 91);
  const unknown = tdpFor('AMD EPYC', 2);
  assert.deepEqual([unknown.watts, unknown.basis], [8, 'per-thread']);
  close(estimateDramWatts(16e9), 16 * 0.3725);
  assert.equal(loadBetween({ busy: 0, total: 0 }, { busy: 30, total: 40 }), 0.75);
  assert.ok(cpuTimes().total > 0);
  let t = { busy: 0, total: 0 };
  const c = new EstimateCounter(100, 8e9, () => t);
  t = { busy: 50, total: 100 };
  const j = c.sample();
  assert.equal(c.lastLoad, 0.5);
  assert.ok(j.cpuJ >= 0 && j.dramJ >= 0);
});

/** A fake powercap tree, laid out like sysfs (nested zones plus flat links at the root). */
function zone(root: string, rel: string, name: string, uj: number | 'dir', max = 1_000_000_000): string {
  const dir = path.join(root, rel);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'name'), `${name}\n`);
  if (uj === 'dir') fs.mkdirSync(path.join(dir, 'energy_uj'));
  else fs.writeFileSync(path.join(dir, 'energy_uj'), `${uj}\n`);
  fs.writeFileSync(path.join(dir, 'max_energy_range_uj'), `${max}\n`);
  const flat = path.join(root, path.basename(rel));
  if (rel.includes('/') && !fs.existsSync(flat)) fs.symlinkSync(dir, flat);
  return dir;
}

function fakeTree(): string {
  const root = tempDir('powercap');
  fs.mkdirSync(path.join(root, 'intel-rapl'));
  zone(root, 'intel-rapl:0', 'package-0', 5_000_000);
  zone(root, 'intel-rapl:0/intel-rapl:0:0', 'core', 4_000_000);
  zone(root, 'intel-rapl:0/intel-rapl:0:1', 'dram', 1_000_000);
  zone(root, 'intel-rapl:1', 'package-1', 999_000_000);
  zone(root, 'intel-rapl:1/intel-rapl:1:0', 'dram', 2_000_000);
  zone(root, 'intel-rapl:2', 'psys', 9_000_000);
  zone(root, 'intel-rapl-mmio:0', 'package-0', 5_000_123);
  return root;
}

test('RAPL: packages and DRAM counted once each; psys, core, MMIO copy skipped; wrap-around handled', () => {
  const root = fakeTree();
  const d = discoverRapl(root);
  assert.deepEqual(
    d.zones.map((z) => `${z.id}=${z.key}`),
    [
      'intel-rapl:0=package-0',
      'intel-rapl:0:1=package-0/dram',
      'intel-rapl:1=package-1',
      'intel-rapl:1:0=package-1/dram',
    ],
  );
  const skipped = Object.fromEntries(d.skipped.map((s) => [s.id, s.reason]));
  assert.match(skipped['intel-rapl:0:0']!, /part of the package/);
  assert.match(skipped['intel-rapl:2']!, /psys/);
  assert.match(skipped['intel-rapl-mmio:0']!, /duplicate/);
  const c = new RaplCounter(d.zones);
  const set = (rel: string, uj: number) => fs.writeFileSync(path.join(root, rel, 'energy_uj'), `${uj}\n`);
  set('intel-rapl:0', 7_000_000); // +2 J
  set('intel-rapl:0/intel-rapl:0:1', 1_500_000); // +0.5 J
  set('intel-rapl:1', 3_000_000); // wrapped: 1e9 - 999e6 + 3e6 = 4e6 uJ = 4 J
  set('intel-rapl:1/intel-rapl:1:0', 2_250_000); // +0.25 J
  set('intel-rapl-mmio:0', 99_000_000); // the duplicate is not read
  set('intel-rapl:2', 99_000_000);
  const j = c.sample();
  close(j.cpuJ, 6);
  close(j.dramJ, 0.75);
  assert.deepEqual(c.sample(), { cpuJ: 0, dramJ: 0 });
  // 1e9 uJ range at 1000 W: 1 s between readings at most
  assert.equal(c.maxSafeIntervalMs(1000), 1000);
});

test('RAPL: mirrored per-die counters count once; unreadable energy_uj falls back with the access command', async () => {
  const root = tempDir('powercap');
  zone(root, 'intel-rapl:0', 'package-0-die-0', 42_000_000);
  zone(root, 'intel-rapl:1', 'package-0-die-1', 42_000_000);
  zone(root, 'intel-rapl:2', 'package-1', 'dir'); // unreadable even as root
  const d = discoverRapl(root);
  assert.deepEqual(
    d.zones.map((z) => z.id),
    ['intel-rapl:0'],
  );
  assert.match(d.skipped.find((s) => s.id === 'intel-rapl:1')!.reason, /mirrors intel-rapl:0/);
  assert.match(d.problems.join(' '), /intel-rapl:2\/energy_uj cannot be read/);

  // Root-only energy_uj (tests run as root, where chmod 000 does not block reads: inject the reader).
  const denied: FileReader = (f) => {
    if (f.endsWith('energy_uj'))
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    return fs.readFileSync(f, 'utf8');
  };
  const r = discoverRapl(fakeTree(), denied);
  assert.equal(r.zones.length, 0);
  assert.ok(r.rootOnly);
  const s = await detectSources({
    powercapRoot: r.root,
    nvidiaSmi: '/nonexistent/nvidia-smi',
    readFile: denied,
  });
  assert.equal(s.report.cpu, 'estimate');
  assert.equal(s.report.source, 'estimate');
  const raplLine = s.report.lines.find((l) => l.startsWith('RAPL: not usable'))!;
  assert.match(raplLine, /readable only by root/);
  assert.match(raplLine, /sudo chmod o\+r .*energy_uj/);
  assert.match(raplLine, /udev/);
  assert.match(s.report.lines.join('\n'), /estimate: used .*ESTIMATE/);

  const ok = await detectSources({ powercapRoot: fakeTree(), nvidiaSmi: '/nonexistent/nvidia-smi' });
  assert.equal(ok.report.source, 'rapl');
  assert.match(ok.report.lines.join('\n'), /nvidia-smi: not usable: .*not found/);
});

test('nvidia-smi: a fake script on PATH, [N/A] rows not counted, power integrated over time', async () => {
  const bin = tempDir('nvsmi');
  const script = path.join(bin, 'nvidia-smi');
  fs.writeFileSync(
    script,
    '#!/bin/sh\necho "0, NVIDIA Fake 80GB, 100.00"\necho "1, NVIDIA Fake 80GB, 50.5"\necho "2, Old GPU, [N/A]"\n',
  );
  fs.chmodSync(script, 0o755);
  assert.deepEqual(parseNvidiaSmi('0, A, 12.5\n1, B, [N/A]\n'), [
    { index: 0, name: 'A', watts: 12.5 },
    { index: 1, name: 'B', watts: null },
  ]);
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${oldPath}`;
  try {
    const p = await probeNvidia('nvidia-smi');
    assert.ok(p.usable);
    assert.deepEqual(p.measured, [0, 1]);
    assert.match(p.problem!, /GPU 2 \(Old GPU\) report power.draw \[N\/A\]/);
    const s = await detectSources({ powercapRoot: '/nonexistent', nvidiaSmi: 'nvidia-smi' });
    assert.equal(s.report.source, 'estimate+nvidia-smi');
    assert.equal(s.report.gpus, 2);
  } finally {
    process.env.PATH = oldPath;
  }
  const c = new NvidiaCounter(script, [0, 1]);
  await c.start();
  await sleep(100);
  const t0 = performance.now();
  const j = await c.sample();
  assert.ok(j > 150.5 * 0.09 && j < 150.5 * ((performance.now() - t0) / 1000 + 0.5), `${j} J`);
  fs.writeFileSync(script, '#!/bin/sh\necho "0, NVIDIA Fake, [N/A]"\n');
  const none = await probeNvidia(script);
  assert.equal(none.usable, false);
});

test('powermetrics output is parsed (Apple silicon and Intel Macs)', () => {
  assert.deepEqual(parsePowermetrics('CPU Power: 1234 mW\nGPU Power: 56 mW\nANE Power: 0 mW\n'), {
    cpuW: 1.234,
    gpuW: 0.056,
    dramW: 0,
  });
  assert.deepEqual(parsePowermetrics('Intel energy model derived package power (CPUs+GPU+DRAM): 7.53W\n'), {
    cpuW: 7.53,
    gpuW: 0,
    dramW: 0,
  });
  assert.equal(parsePowermetrics('nothing'), null);
});

/** Sources that draw constant powers over real time, failing every `failEvery`-th reading. */
function constantSources(cpuW: number, dramW: number, failEvery = 0): Sources {
  return powerSources({ cpuW, dramW }, failEvery);
}

/** Sources that draw `power` (which the caller may change) over real time. */
function powerSources(power: { cpuW: number; dramW: number }, failEvery = 0): Sources {
  return {
    report: {
      source: 'rapl',
      cpu: 'rapl',
      gpu: null,
      gpus: 0,
      estimateNote: null,
      lines: ['fake'],
      nvidia: null,
      powermetrics: null,
      rapl: { root: '', zones: [], skipped: [], problems: [], rootOnly: false },
    },
    async open() {
      let last = performance.now();
      let n = 0;
      let missed = 0;
      return {
        maxIntervalMs: 60_000,
        async sample() {
          if (failEvery && ++n % failEvery === 0) {
            missed++;
            throw new Error('missed');
          }
          const t = performance.now();
          const s = (t - last) / 1000;
          last = t;
          return { cpuJ: power.cpuW * s, dramJ: power.dramW * s, gpuJ: 0 };
        },
        missed: () => missed,
        close: () => undefined,
      };
    },
  };
}

test('the meter integrates over real timestamps and survives missed samples', async () => {
  const m = new PowerMeter(constantSources(20, 4, 3), 20);
  await m.start();
  await sleep(300);
  const t = await m.stop();
  assert.ok(t.missed > 0, 'some samples missed');
  close(t.cpuJ / t.seconds, 20, 0.1);
  close(t.dramJ / t.seconds, 4, 0.1);
  assert.equal(m.trace.length % 4, 0);
});

/** A training run's recorder on constant 30 W CPU / 5 W DRAM counters, sampled every 20 ms. */
const constantRecorder = (store: Store, idleSeconds: number) =>
  RunRecorder.start({
    store,
    kind: 'train',
    params: { test: true },
    settings: { ...DEFAULT_SETTINGS, idleSeconds, sampleIntervalMs: 20, attribution: 'machine' },
    sources: constantSources(30, 5),
  });

test('epoch attribution: cumulative energy at each epoch end, fixed epochs and until the best', async () => {
  const dir = tempDir('rec');
  const store = Store.open(path.join(dir, 'x.db'));
  try {
    const rec = await constantRecorder(store, 0.2);
    const e1 = rec.epoch({ epoch: 1, best: true, valAccuracy: 0.5 });
    await sleep(200);
    const e2 = rec.epoch({ epoch: 2, best: false, valAccuracy: 0.4 });
    await sleep(100);
    const out = await rec.finish('finished');
    // Idle draws the same as the run: nothing above idle, never below zero.
    // (Within sampling jitter: on a loaded machine the timer fires late.)
    assert.ok(out.energy.cpu_w >= 0 && out.energy.cpu_w < 1, `cpu_w ${out.energy.cpu_w}`);
    assert.ok(out.energy.idle_w > 30);
    assert.equal(out.bestEpoch, 1);
    assert.deepEqual(out.untilBest, e1);
    assert.deepEqual(out.fixedEpochs, e2);
    assert.ok(e2.seconds > e1.seconds + 0.15 && out.energy.seconds > e2.seconds);
    const run = store.runs.get(rec.id)!;
    assert.equal(run.status, 'finished');
    assert.equal(run.best_epoch, 1);
    assert.deepEqual(
      run.epochs.map((e) => [e.epoch, e.best, e.energy?.seconds]),
      [
        [1, true, e1.seconds],
        [2, false, e2.seconds],
      ],
    );
    assert.deepEqual(run.energy_until_best, e1);
    assert.ok(run.power!.samples >= 2 && run.power!.traceFile);
    const trace = store.power.readTrace(rec.id)!;
    assert.deepEqual(trace.columns, ['t_s', 'cpu_w', 'dram_w', 'gpu_w']);
    assert.ok(trace.rows.length >= 2);
    close(trace.rows.at(-1)![1]!, 30, 0.5);
  } finally {
    store.close();
  }
});

test("a run's cumulative energy never goes down from one epoch to the next, though an epoch draws less than idle", async () => {
  const dir = tempDir('rec');
  const store = Store.open(path.join(dir, 'x.db'));
  try {
    // 40 W in epoch 1, then nothing while epoch 2 runs, against 20 W idle.
    const power = { cpuW: 40, dramW: 0 };
    const rec = await RunRecorder.start({
      store,
      kind: 'train',
      params: { test: true },
      settings: { ...DEFAULT_SETTINGS, sampleIntervalMs: 20, attribution: 'machine' },
      sources: powerSources(power),
      idle: { cpuW: 20, dramW: 0, gpuW: 0 },
    });
    await sleep(300);
    const e1 = rec.epoch({ epoch: 1, best: true });
    power.cpuW = 0;
    await sleep(300);
    const e2 = rec.epoch({ epoch: 2 });
    const out = await rec.finish('finished');
    assert.ok(e1.kwh > 0, 'epoch 1 drew above idle');
    const epochs = store.runs.get(rec.id)!.epochs.map((e) => e.energy!);
    assert.deepEqual(epochs, [e1, e2]);
    for (const k of ['kwh', 'co2e_lbs', 'co2e_kg', 'seconds'] as const) {
      assert.ok(e2[k] >= e1[k], `${k}: epoch 2 ${e2[k]} < epoch 1 ${e1[k]}`);
      assert.ok(out.energy[k] >= e2[k], `${k}: the run ${out.energy[k]} < epoch 2 ${e2[k]}`);
    }
    // The quiet epoch added (almost) nothing: idle is subtracted per epoch, never below zero.
    close(e2.kwh, e1.kwh, e1.kwh * 0.2);
  } finally {
    store.close();
  }
});

test('adding two energy records: sums, time-weighted powers, joined sources, the later PUE', () => {
  const a = energyRecord(
    { seconds: 100, cpuW: 30, dramW: 6, gpuW: 0, gpus: 0 },
    { cpuW: 10, dramW: 2, gpuW: 0 },
    { source: 'rapl', pue: 1.2 },
  );
  const b = energyRecord(
    { seconds: 300, cpuW: 50, dramW: 10, gpuW: 0, gpus: 0 },
    { cpuW: 14, dramW: 2, gpuW: 0 },
    { source: 'estimate', pue: 1.5, intensity: 2 },
  );
  const s = addEnergy(a, b);
  close(s.kwh, a.kwh + b.kwh);
  close(s.co2e_lbs, a.co2e_lbs + b.co2e_lbs);
  close(s.co2e_kg, a.co2e_kg + b.co2e_kg);
  assert.equal(s.seconds, 400);
  close(s.cpu_w, (20 * 100 + 36 * 300) / 400);
  close(s.dram_w, (4 * 100 + 8 * 300) / 400);
  close(s.idle_w, (12 * 100 + 16 * 300) / 400);
  assert.equal(s.gpu_w, 0);
  assert.deepEqual([s.source, s.pue, s.intensity_lbs_per_kwh, s.gpus], ['rapl+estimate', 1.5, 2, 0]);
  assert.deepEqual(Object.keys(s).sort(), Object.keys(a).sort());
  assert.equal(addEnergy(a, a).source, 'rapl');
  assert.equal(addEnergy(s, a).source, 'rapl+estimate');
});

test('the energy chain of a training folder: continues, starts over, skips gaps', () => {
  const e = (kwh: number): EnergyRecord =>
    energyRecord(
      { seconds: kwh * 1000, cpuW: 3600 / 1.58, dramW: 0, gpuW: 0, gpus: 0 },
      { cpuW: 0, dramW: 0, gpuW: 0 },
      { source: 'rapl' },
    );
  const run = (id: number, epochs: number[], per = 1) => ({
    id,
    epochs: epochs.map((k, i) => ({ epoch: k, energy: e((i + 1) * per) })),
  });
  const kwh = (c: { energy: EnergyRecord; run: number }[]) =>
    c.map((x) => Math.round(x.energy.kwh * 1e6) / 1e6);
  // 1 ran epochs 1-2, 2 resumed for 3-4; 3 left a gap (its epoch 5 was never recorded); 4 ran nothing.
  const chain = energyChain([run(2, [3, 4], 10), run(1, [1, 2]), run(3, [6, 7], 100), run(4, [])]);
  assert.deepEqual(kwh(chain), [1, 2, 12, 22]);
  assert.deepEqual(
    chain.map((c) => c.run),
    [1, 1, 2, 2],
  );
  // 5 started over from the checkpoint of epoch 1 (the folder was reset): counted once, from there.
  const over = energyChain([run(1, [1, 2]), run(2, [3, 4], 10), run(5, [2, 3], 1000)]);
  assert.deepEqual(kwh(over), [1, 1001, 2001]);
  // A run from scratch starts the chain over.
  assert.deepEqual(kwh(energyChain([run(1, [1, 2]), run(6, [1], 50)])), [50]);
  // Nothing before epoch 2 is known: no chain.
  assert.deepEqual(energyChain([run(1, [2, 3])]), []);
});

test('carried energy: complete, and incomplete (flagged) when the records stop short', () => {
  const dir = tempDir('carry');
  const store = Store.open(path.join(dir, 'x.db'));
  try {
    const e = (s: number) =>
      energyRecord(
        { seconds: s, cpuW: 10, dramW: 0, gpuW: 0, gpus: 0 },
        { cpuW: 0, dramW: 0, gpuW: 0 },
        { source: 'rapl' },
      );
    const folder = path.join(dir, 'run');
    const a = store.runs.start({ kind: 'train', params: { run_dir: folder } });
    store.epochs.add(a, { epoch: 1, energy: e(10) });
    store.epochs.add(a, { epoch: 2, energy: e(20) });
    // Other folders and kinds are not part of it.
    const other = store.runs.start({ kind: 'train', params: { run_dir: `${folder}-2` } });
    store.epochs.add(other, { epoch: 3, energy: e(1000) });
    const dec = store.runs.start({ kind: 'decompose', params: { run_dir: folder } });
    store.epochs.add(dec, { epoch: 3, energy: e(1000) });
    const b = store.runs.start({ kind: 'train', params: { run_dir: folder } });
    store.epochs.add(b, { epoch: 3, energy: e(5) });
    const now = store.runs.start({ kind: 'train', params: { run_dir: folder } });

    const full = carriedEnergy(store, folder, now, 3);
    assert.deepEqual(full.info, { from_runs: [a, b], through_epoch: 3, complete: true });
    assert.equal(full.carried.through(3)!.seconds, 25);
    assert.equal(full.carried.through(1)!.seconds, 10);
    // The run resumed after epoch 5, but epochs 4 and 5 were never recorded (killed between
    // the checkpoint and its record): what is known is carried, and it says so.
    const part = carriedEnergy(store, folder, now, 5);
    assert.deepEqual(part.info, { from_runs: [a, b], through_epoch: 3, complete: false });
    assert.equal(part.carried.through(5)!.seconds, 25);
    // Only earlier runs count.
    assert.deepEqual(carriedEnergy(store, folder, b, 2).info, {
      from_runs: [a],
      through_epoch: 2,
      complete: true,
    });
    assert.deepEqual(carriedEnergy(store, path.join(dir, 'elsewhere'), now, 2).info, {
      from_runs: [],
      through_epoch: 0,
      complete: false,
    });
  } finally {
    store.close();
  }
});

test('a resumed training records the energy of training from scratch (earlier attempts included)', async () => {
  const dir = tempDir('resume-energy');
  // A RAPL counter that advances steadily: 20 W package, 5 W DRAM.
  const root = path.join(dir, 'powercap');
  const pkg = zone(root, 'intel-rapl:0', 'package-0', 0, 1e15);
  const dram = zone(root, 'intel-rapl:0/intel-rapl:0:1', 'dram', 0, 1e15);
  const t0 = performance.now();
  const tick = () => {
    const s = (performance.now() - t0) / 1000;
    fs.writeFileSync(path.join(pkg, 'energy_uj'), `${Math.round(20e6 * s)}\n`);
    fs.writeFileSync(path.join(dram, 'energy_uj'), `${Math.round(5e6 * s)}\n`);
  };
  const ticker = setInterval(tick, 2);
  const store = Store.open(path.join(dir, 'x.db'));
  const settings = {
    ...DEFAULT_SETTINGS,
    idleSeconds: 0,
    sampleIntervalMs: 5,
    powercapRoot: root,
    nvidiaSmi: '/nonexistent/nvidia-smi',
    attribution: 'machine' as const,
  };
  const data = colourDataset();
  const config = { depth: 8, batchSize: 16, epochs: 3, seed: 1, augment: false };
  const trainIn = (runDir: string, o: { epochs?: number; stopAfter?: number } = {}) => {
    const ac = new AbortController();
    return recordTrainingRun({
      store,
      settings,
      runDir,
      params: { test: true },
      work: (onEvent) =>
        train({
          runDir,
          data,
          workers: 0,
          signal: ac.signal,
          onEvent: (e) => {
            onEvent(e);
            if (e.type === 'epoch' && e.epoch === o.stopAfter) ac.abort();
          },
          config: { ...config, epochs: o.epochs ?? config.epochs },
        }),
    });
  };
  const epochEnergy = (id: number, epoch: number) =>
    store.runs.get(id)!.epochs.find((e) => e.epoch === epoch)!.energy!;
  try {
    const folder = path.join(dir, 'run');
    // Cancelled after epoch 2 of 3, then resumed in the same folder.
    const first = await trainIn(folder, { stopAfter: 2 });
    assert.equal(first.result.status, 'cancelled');
    assert.equal(first.result.epochsDone, 2);
    assert.equal(first.carried, undefined);
    assert.equal((store.runs.get(first.runId)!.params as { run_dir: string }).run_dir, folder);
    const copy = path.join(dir, 'copy');
    fs.cpSync(folder, copy, { recursive: true });
    const second = await trainIn(folder);
    assert.equal(second.result.resumedFrom, 2);
    assert.deepEqual(second.carried, { from_runs: [first.runId], through_epoch: 2, complete: true });
    const run = store.runs.get(second.runId)!;
    assert.equal(run.status, 'finished');
    assert.deepEqual(
      run.epochs.map((e) => e.epoch),
      [3],
    );
    assert.deepEqual((run.result as { energy_carried: unknown }).energy_carried, second.carried);
    // The returned figures are the stored ones.
    assert.deepEqual(second.energy.energy, run.energy);
    assert.deepEqual(second.energy.fixedEpochs, run.energy_fixed_epochs);
    assert.deepEqual(second.energy.untilBest, run.energy_until_best);

    const before = epochEnergy(first.runId, 2);
    assert.ok(before.kwh > 0 && before.seconds > 0, 'the first run measured energy');
    // This run's own energy, from its power summary (no idle subtracted): PUE x joules.
    const p = run.power!;
    const ownKwh = (settings.pue * (p.cpuJ + p.dramJ)) / 3.6e6;
    close(run.energy!.kwh, before.kwh + ownKwh, 1e-9);
    close(run.energy!.seconds, before.seconds + p.seconds, 1e-9);
    assert.equal(run.seconds, p.seconds);
    close(run.energy!.co2e_lbs, run.energy!.kwh * settings.intensity, 1e-9);
    assert.equal(run.energy!.source, 'rapl');
    close(run.energy!.cpu_w + run.energy!.dram_w, 25, 0.35);
    close(run.energy_fixed_epochs!.kwh, before.kwh + epochEnergy(second.runId, 3).kwh, 1e-9);
    const best = run.best_epoch!;
    assert.equal(best, second.result.bestEpoch);
    if (best <= 2) assert.deepEqual(run.energy_until_best, epochEnergy(first.runId, best));
    else close(run.energy_until_best!.kwh, before.kwh + epochEnergy(second.runId, 3).kwh, 1e-9);

    // Trained from scratch in a new folder: nothing carried.
    const fresh = await trainIn(path.join(dir, 'fresh'));
    assert.equal(fresh.result.resumedFrom, 0);
    assert.equal(fresh.carried, undefined);
    const f = store.runs.get(fresh.runId)!;
    assert.equal((f.result as Record<string, unknown>).energy_carried, undefined);
    close(f.energy!.kwh, (settings.pue * (f.power!.cpuJ + f.power!.dramJ)) / 3.6e6, 1e-9);

    // A folder whose earlier epochs were never recorded (copied here): flagged incomplete.
    const copied = await trainIn(copy);
    assert.equal(copied.result.resumedFrom, 2);
    assert.deepEqual(copied.carried, { from_runs: [], through_epoch: 0, complete: false });
    const c = store.runs.get(copied.runId)!;
    assert.deepEqual((c.result as { energy_carried: unknown }).energy_carried, copied.carried);
    close(c.energy!.kwh, (settings.pue * (c.power!.cpuJ + c.power!.dramJ)) / 3.6e6, 1e-9);
  } finally {
    clearInterval(ticker);
    store.close();
  }
});

test('RAPL readings are checked: empty, partial and non-numeric reads rejected, impossible steps dropped and noted', () => {
  const root = tempDir('powercap');
  const pkg = zone(root, 'intel-rapl:0', 'package-0', 5_000_000, 262_143_328_850);
  const dram = zone(root, 'intel-rapl:0/intel-rapl:0:1', 'dram', 1_000_000, 262_143_328_850);
  const set = (dir: string, text: string) => fs.writeFileSync(path.join(dir, 'energy_uj'), text);
  let t = 0;
  let cutNext = 0; // the next read of the package counter returns only this many characters
  const read: FileReader = (f) => {
    const s = fs.readFileSync(f, 'utf8');
    if (cutNext && f === path.join(pkg, 'energy_uj')) {
      const n = cutNext;
      cutNext = 0;
      return s.slice(0, n);
    }
    return s;
  };
  const notes: string[] = [];
  const c = new RaplCounter(discoverRapl(root, read).zones, read, {
    now: () => t,
    onNote: (l) => notes.push(l),
  });
  const step = (ms: number, pkgText: string | null, dramText: string | null = null) => {
    t += ms;
    if (pkgText !== null) set(pkg, pkgText);
    if (dramText !== null) set(dram, dramText);
    return c.sample();
  };
  // A first step confirms the baselines.
  let j = step(100, '5100000\n', '1100000\n');
  close(j.cpuJ, 0.1);
  close(j.dramJ, 0.1);
  // Caught mid-rewrite: empty. Rejected (Number('') would be 0 and look like a wrap).
  j = step(100, '', '1600000\n');
  assert.equal(j.cpuJ, 0);
  close(j.dramJ, 0.5);
  assert.equal(c.rejected, 1);
  // The next good reading covers the gap.
  close(step(100, '7000000\n').cpuJ, 1.9);
  for (const bad of ['garbage\n', '-5\n', '1e9\n', '7.5\n', '999999999999\n'])
    assert.equal(step(100, bad).cpuJ, 0, bad);
  assert.equal(c.rejected, 6);
  // A prefix of the number ("72" of 7200000) looks like a wrap worth ~262 kJ: re-read.
  cutNext = 2;
  close(step(100, '7200000\n').cpuJ, 0.2);
  assert.equal(c.dropped, 0);
  // 2 kJ in 0.1 s is 20 kW: dropped, the baseline kept, so a good reading after it counts.
  assert.equal(step(100, '207200000\n').cpuJ, 0);
  assert.equal(c.dropped, 1);
  close(step(100, '7300000\n').cpuJ, 0.1);
  // Going backwards by far more than any wrap at 1 kW could explain: dropped; three in a row
  // that persists for a second is a counter that was reset, counted from there.
  assert.equal(step(500, '1000\n').cpuJ, 0);
  assert.equal(step(500, '2000\n').cpuJ, 0);
  assert.equal(step(500, '3000\n').cpuJ, 0);
  close(step(100, '1003000\n').cpuJ, 1);
  assert.equal(c.dropped, 4);
  assert.equal(c.missed, c.rejected + c.dropped);
  assert.equal(notes.length, 4);
  assert.match(
    notes[0]!,
    /intel-rapl:0 \(package-0\): dropped a reading of 207200000 µJ after 7200000 µJ 0\.100 s earlier \(more than 1000 W\)/,
  );
  assert.match(notes[3]!, /3 in a row, so the counter was reset: counting from 3000/);
});

test('RAPL discovery re-reads a counter caught mid-rewrite (mirrored dies still count once)', () => {
  const root = tempDir('powercap');
  zone(root, 'intel-rapl:0', 'package-0-die-0', 42_000_000);
  zone(root, 'intel-rapl:1', 'package-0-die-1', 42_000_000);
  zone(root, 'intel-rapl:2', 'package-1', 7_000_000);
  fs.writeFileSync(path.join(root, 'intel-rapl:2', 'energy_uj'), 'x\n');
  let first = true;
  const read: FileReader = (f) => {
    if (first && f.endsWith(`intel-rapl:0${path.sep}energy_uj`)) {
      first = false;
      return '';
    }
    return fs.readFileSync(f, 'utf8');
  };
  const d = discoverRapl(root, read);
  assert.deepEqual(
    d.zones.map((z) => z.id),
    ['intel-rapl:0'],
  );
  assert.match(d.problems.join(' '), /intel-rapl:2\/energy_uj does not hold a counter value \("x"\)/);
});

test("RAPL through a powercap tree rewritten in place (truncate, then write): the energy is the counter's", async () => {
  const root = tempDir('powercap');
  const pkg = zone(root, 'intel-rapl:0', 'package-0', 0, 262_143_328_850);
  const file = path.join(pkg, 'energy_uj');
  const offset = 123_456_789_012; // a counter that has been running for a while
  const t0 = performance.now();
  const counter = () => offset + Math.round(20e6 * ((performance.now() - t0) / 1000)); // 20 W
  // The meter starts and stops on whole readings, so what it must count is exactly the
  // counter's rise between them, however the scheduler delayed the writer or the meter.
  fs.writeFileSync(file, `${counter()}\n`);
  const s = await detectSources({ powercapRoot: root, nvidiaSmi: '/nonexistent/nvidia-smi', noGpu: true });
  assert.equal(s.report.source, 'rapl');
  const first = Number(fs.readFileSync(file, 'utf8'));
  const m = new PowerMeter(s, 3);
  await m.start();
  // Rewritten in place like a non-atomic writer does (truncate, then write), the empty file
  // visible half the time.
  let phase = 0;
  const ticker = setInterval(() => {
    const fd = fs.openSync(file, 'r+');
    fs.ftruncateSync(fd, 0);
    if (phase++ % 2) fs.writeSync(fd, `${counter()}\n`);
    fs.closeSync(fd);
  }, 1);
  try {
    await sleep(400);
  } finally {
    clearInterval(ticker);
  }
  const last = counter();
  fs.writeFileSync(file, `${last}\n`);
  const tot = await m.stop();
  // (stop() fills the microseconds after its last reading at that reading's power)
  close(tot.cpuJ, (last - first) / 1e6, 0.05);
  assert.ok(tot.missed > 0, 'the torn readings were counted');
});

test("live power is the meter's own samples since the last read, as measured (idle included)", async () => {
  const dir = tempDir('live');
  const store = Store.open(path.join(dir, 'x.db'));
  try {
    const rec = await constantRecorder(store, 0.1);
    await sleep(200);
    const a = rec.livePower();
    assert.ok(a, 'samples came');
    // The machine draws 30 W + 5 W whatever idle is: live power is not the energy above idle.
    close(a.cpuW, 30, 0.5);
    close(a.dramW, 5, 0.1);
    assert.equal(a.gpuW, 0);
    assert.equal(rec.livePower(), null, 'nothing new since the last read');
    await sleep(100);
    const b = rec.livePower();
    assert.ok(b && b.t > a.t, 'the next read starts where the last stopped');
    await rec.finish('finished');
  } finally {
    store.close();
  }
});
