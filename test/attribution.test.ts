// `process` attribution on fake /proc and powercap trees: a run's share of the machine's
// dynamic power follows its share of busy CPU time, whatever else runs; runs in one process
// split it; child processes count once; GPUs by their per-process use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuShare, machineBusy } from '../src/core/common/energy.ts';
import { attributeInterval } from '../src/core/node/energy/attribute.ts';
import { RunsHere } from '../src/core/node/energy/cpu-share.ts';
import { GpuShares, parsePmon, sharesFromPmon } from '../src/core/node/energy/gpu-share.ts';
import { detectSources } from '../src/core/node/energy/meter.ts';
import { parsePidStat, ProcReader, TreeTicks } from '../src/core/node/energy/proc.ts';
import { RunRecorder } from '../src/core/node/measure/recorder.ts';
import { DEFAULT_SETTINGS } from '../src/core/node/store/settings.ts';
import { Store } from '../src/core/node/store/store.ts';
import { drive, FakeProc, FakeRapl, pidStat } from './helpers/fake-machine.ts';

const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const near = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} is not within ${rel * 100}% of ${b}`);

/** A recorder in `process` attribution on the fake trees, idle package power 10 W. */
async function recorder(store: Store, proc: FakeProc, rapl: FakeRapl) {
  return RunRecorder.start({
    store,
    kind: 'train',
    params: { test: true },
    settings: {
      ...DEFAULT_SETTINGS,
      attribution: 'process',
      sampleIntervalMs: 20,
      powercapRoot: rapl.root,
      nvidiaSmi: '/nonexistent/nvidia-smi',
    },
    noGpu: true,
    procRoot: proc.root,
    idle: { cpuW: 10, dramW: 0, gpuW: 0 },
  });
}

/**
 * A two-CPU machine, 100 ticks a second each: this process busy on one CPU, a background
 * process on the other when `background`. The package draws 10 W idle and 20 W per busy CPU;
 * its counter wraps every few tenths of a second, and once `tearing` is set it is caught
 * mid-rewrite half the time.
 */
function machine(proc: FakeProc, rapl: FakeRapl, background: boolean) {
  return drive((s) => {
    const busy = background ? 2 : 1;
    proc.machine(100 * busy * s, 100 * (2 - busy) * s);
    proc.processes([{ pid: process.pid, ppid: 1, utime: 80 * s, stime: 20 * s }]);
    rapl.set((10 + 20 * busy) * s);
  });
}

test('a run at 100% of one core beside a background process at 100% of the other gets half the dynamic package power; alone, all of it', async () => {
  const store = Store.open(path.join(tmp('dec-attr-'), 'x.db'));
  try {
    for (const background of [true, false]) {
      // 12 J per 0.3 s at 40 W: the counter wraps between readings several times a run.
      const proc = new FakeProc();
      const rapl = new FakeRapl(12_000_000);
      const stop = machine(proc, rapl, background);
      try {
        const rec = await recorder(store, proc, rapl);
        rapl.tearing = true;
        await sleep(600);
        // A torn reading is covered by the next good one: the run ends on good ones.
        rapl.tearing = false;
        await sleep(30);
        const { energy: e } = await rec.finish('finished');
        assert.equal(e.attribution, 'process');
        assert.equal(e.source, 'rapl');
        // Dynamic power: 40 W with the background (the run's half: 20 W), 20 W alone (all: 20 W).
        near(e.cpu_w, 20, 0.12, background ? 'beside a background process' : 'alone');
        near(cpuShare(e)!, background ? 0.5 : 1, 0.1, 'share of busy CPU time');
        near(machineBusy(e)!, background ? 1 : 0.5, 0.1, 'machine busy');
        near(e.run_cpu_s!, e.seconds, 0.15, 'CPU seconds: one core for the whole run');
        assert.equal(e.idle_w, 10);
        const lines = store.runs.get(rec.id)!.power!.sources.join('\n');
        assert.match(lines, /attribution: process: the machine's power above idle x the run's share/);
        assert.match(lines, new RegExp(`CPU time from ${proc.root}`));
      } finally {
        stop();
      }
    }
  } finally {
    store.close();
  }
});

test("a run attributed per process whose process dies keeps its own figure, not the whole machine's", async () => {
  const file = path.join(tmp('dec-attr-'), 'x.db');
  const store = Store.open(file);
  const proc = new FakeProc();
  const rapl = new FakeRapl();
  const stop = machine(proc, rapl, true);
  let id: number;
  try {
    const rec = await recorder(store, proc, rapl);
    id = rec.id;
    await sleep(500);
    rec.epoch({ epoch: 1 }); // the power summary, as every heartbeat and epoch end writes it
    await rec.finish('failed');
  } finally {
    stop();
  }
  // As if the process had died mid-run: still 'running', its owner gone, no figure written at the end.
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  store.write(() =>
    store.db
      .prepare(
        `UPDATE runs SET status = 'running', energy_json = NULL, pid = ?, pid_start = NULL WHERE id = ?`,
      )
      .run(gone, id),
  );
  store.close();
  const again = Store.open(file);
  try {
    assert.deepEqual(again.interruptedAtOpen, [id]);
    const e = again.runs.get(id)!.energy!;
    assert.equal(e.attribution, 'process');
    // Half of the 40 W above idle, not all of it (what the machine's joules alone would give).
    near(e.cpu_w, 20, 0.15, 'the interrupted run');
  } finally {
    again.close();
  }
});

test('two runs measured at once in one process split its CPU time: never the same watts twice', async () => {
  const store = Store.open(path.join(tmp('dec-attr-'), 'x.db'));
  const proc = new FakeProc();
  const rapl = new FakeRapl();
  const stop = machine(proc, rapl, false);
  try {
    const [a, b] = await Promise.all([recorder(store, proc, rapl), recorder(store, proc, rapl)]);
    await sleep(500);
    const [ea, eb] = await Promise.all([a.finish('finished'), b.finish('finished')]);
    // The process holds all the busy time: 20 W dynamic, 10 W each.
    near(ea.energy.cpu_w, 10, 0.2, 'first run');
    near(eb.energy.cpu_w, 10, 0.2, 'second run');
    near(ea.energy.cpu_w + eb.energy.cpu_w, 20, 0.1, 'both');
  } finally {
    stop();
    store.close();
  }

  // The weights: one run alone has all of the process, two have half each, every moment adds to one.
  let t = 0;
  const runs = new RunsHere(() => t);
  const x = runs.enter();
  t = 1;
  const y = runs.enter();
  t = 3;
  assert.equal(runs.weight(x), (1 + 2 / 2) / 3);
  assert.equal(runs.weight(y), 1 / 2);
  runs.leave(x);
  t = 4;
  assert.equal(runs.weight(y), 1);
});

test("a process tree's CPU time counts threads and children once, also when a child is reaped", () => {
  const proc = new FakeProc();
  const me = { pid: 500, ppid: 1, utime: 100, children: [501] };
  const child = { pid: 501, ppid: 500, utime: 40, children: [502] };
  const grandchild = { pid: 502, ppid: 501, utime: 10 };
  const stranger = { pid: 900, ppid: 1, utime: 5000 };
  proc.processes([me, child, grandchild, stranger]);
  const tree = new TreeTicks(new ProcReader(proc.root), 500);
  // 30 ticks of this process's threads, 20 of its child's, 5 of its grandchild's.
  proc.processes([
    { ...me, utime: 130 },
    { ...child, utime: 60 },
    { ...grandchild, utime: 15 },
    { ...stranger, utime: 9000 },
  ]);
  assert.deepEqual(tree.sample(), { ticks: 55, pids: [500, 501, 502] });
  // The grandchild ran 3 more ticks and was reaped by the child: its 18 move into the child's cutime.
  proc.processes([
    { ...me, utime: 130 },
    { ...child, utime: 60, cutime: 18, children: [] },
    { ...stranger, utime: 9999 },
  ]);
  assert.equal(tree.sample()!.ticks, 3);
  // A new child counts from zero; a pid reused by another process (another start time) too.
  proc.processes([
    { ...me, utime: 131, children: [501, 503] },
    { ...child, utime: 60, cutime: 18, children: [] },
    { pid: 503, ppid: 500, utime: 7 },
  ]);
  assert.equal(tree.sample()!.ticks, 8);
  // The process's own stat unreadable for a moment: nothing is consumed, the next reading covers it.
  fs.rmSync(path.join(proc.root, '500'), { recursive: true });
  assert.equal(tree.sample(), null);
  proc.processes([
    { ...me, utime: 140, children: [501, 503] },
    { ...child, utime: 60, cutime: 18, children: [] },
    { pid: 503, ppid: 500, utime: 7 },
  ]);
  assert.equal(tree.sample()!.ticks, 9);
  // Names with spaces and parentheses do not shift the fields.
  assert.deepEqual(parsePidStat(pidStat({ pid: 7, ppid: 3, utime: 11, stime: 2, cutime: 1, start: 99 })), {
    pid: 7,
    ppid: 3,
    start: 99,
    ticks: 14,
  });
});

test('the interval rule: the dynamic part split by the share of busy time; the estimate prices CPU seconds alone', () => {
  const idle = { cpuW: 10, dramW: 2, gpuW: 20 };
  // 1 s: package 50 J, DRAM 6 J, two GPUs at 100 and 50 J; the run had 1 of 2 busy CPU seconds.
  const m = { cpuJ: 50, dramJ: 6, gpuJs: [100, 50] };
  const r = attributeInterval(1, m, { runS: 1, busyS: 2 }, [0.75, 0], { kind: 'dynamic', idle });
  assert.deepEqual(r, { cpuJ: 20, dramJ: 2, gpuJs: [60, 0] });
  // Unknown GPU shares: split like the CPU. Below idle: nothing, never negative.
  const below = attributeInterval(1, { cpuJ: 5, dramJ: 1, gpuJs: [100] }, { runS: 1, busyS: 2 }, null, {
    kind: 'dynamic',
    idle,
  });
  assert.deepEqual(below, { cpuJ: 0, dramJ: 0, gpuJs: [40] });
  // The estimate: 1.5 CPU s at 3.6 W a thread, whatever else the machine did.
  for (const busyS of [1.5, 2, 100])
    assert.deepEqual(
      attributeInterval(1, { cpuJ: 99, dramJ: 9, gpuJs: [] }, { runS: 1.5, busyS }, null, {
        kind: 'per-thread',
        threadW: 3.6,
        idle,
      }).cpuJ.toFixed(6),
      (5.4).toFixed(6),
    );
});

test("GPUs: the run's share of each GPU from nvidia-smi pmon (else the memory it holds); a GPU it does not use gets nothing", async () => {
  const pmon = `# gpu         pid  type    sm    mem    enc    dec    jpg    ofa    command
# Idx           #   C/G     %      %      %      %      %      %    name
    0      ${process.pid}     C    30     10      -      -      -      -    node
    0        777     C    10      5      -      -      -      -    python
    1        778     C    50     20      -      -      -      -    python
    2          -     -     -      -      -      -      -      -    -
`;
  const rows = parsePmon(pmon)!;
  assert.equal(rows.length, 3);
  assert.deepEqual(sharesFromPmon(rows, [0, 1, 2], new Set([process.pid])), [0.75, 0, 0]);

  const bin = tmp('dec-nvsmi-');
  const script = path.join(bin, 'nvidia-smi');
  const write = (withPmon: boolean) =>
    fs.writeFileSync(
      script,
      `#!/bin/sh
case "$1" in
  pmon) ${withPmon ? `cat <<'EOF'\n${pmon}EOF\n` : 'echo "pmon: not supported" >&2; exit 1'} ;;
  --query-gpu=index,uuid) echo "0, GPU-aaa"; echo "1, GPU-bbb" ;;
  --query-compute-apps=*) echo "GPU-aaa, ${process.pid}, 300"; echo "GPU-aaa, 777, 100"; echo "GPU-bbb, 778, 500" ;;
  *) echo "0, NVIDIA Fake, 100.00"; echo "1, NVIDIA Fake, 50.00" ;;
esac
`,
      { mode: 0o755 },
    );
  write(false);
  const apps = new GpuShares(script, [0, 1], () => [process.pid]);
  await apps.start();
  assert.deepEqual(apps.shares(), [0.75, 0]);
  assert.match(apps.method, /query-compute-apps/);
  await apps.close();

  // Through a run: 100 W and 50 W drawn, 20 W idle per GPU; the run has 3/4 of GPU 0 alone.
  write(true);
  const store = Store.open(path.join(tmp('dec-attr-'), 'x.db'));
  try {
    const settings = {
      ...DEFAULT_SETTINGS,
      attribution: 'process' as const,
      sampleIntervalMs: 50,
      powercapRoot: '/nonexistent',
      nvidiaSmi: script,
    };
    const sources = await detectSources({ powercapRoot: '/nonexistent', nvidiaSmi: script });
    assert.equal(sources.report.gpus, 2);
    const rec = await RunRecorder.start({
      store,
      kind: 'evaluate',
      params: {},
      settings,
      sources,
      idle: { cpuW: 0, dramW: 0, gpuW: 20 },
    });
    await sleep(400);
    const { energy: e } = await rec.finish('finished');
    assert.equal(e.gpus, 1, 'only the GPU the run used');
    near(e.gpu_w, 60, 0.05, "GPU 0's 80 W above idle x 3/4");
    assert.equal(e.idle_w, 20, "GPU 0's idle (the estimate takes nothing off the CPU)");
    assert.match(store.runs.get(rec.id)!.power!.sources.join('\n'), /GPU shares from nvidia-smi pmon/);
  } finally {
    store.close();
  }
});
