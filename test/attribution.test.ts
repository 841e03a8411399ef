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
import { CpuShareSampler, RunsHere } from '../src/core/node/energy/cpu-share.ts';
import { GpuShares, parsePmon, sharesFromPmon } from '../src/core/node/energy/gpu-share.ts';
import { detectSources } from '../src/core/node/energy/meter.ts';
import { parsePidStat, ProcReader, TreeTicks } from '../src/core/node/energy/proc.ts';
import { RunRecorder } from '../src/core/node/measure/recorder.ts';
import { DEFAULT_SETTINGS } from '../src/core/node/store/settings.ts';
import { Store } from '../src/core/node/store/store.ts';
import type { FileReader } from '../src/core/node/energy/powercap.ts';
import { FakeProc, FakeRapl, liveMachine, pidStat, type FakeProcess } from './helpers/fake-machine.ts';

const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const near = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} is not within ${rel * 100}% of ${b}`);

/** A recorder in `process` attribution on the fake trees, idle package power 10 W. */
async function recorder(store: Store, proc: FakeProc, rapl: FakeRapl, readFile: FileReader) {
  return RunRecorder.start({
    readFile,
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
 * process on the other when `background`. The package draws 10 W idle and 20 W per busy CPU.
 */
function machine(proc: FakeProc, rapl: FakeRapl, background: boolean): FileReader {
  return liveMachine(proc, rapl, (s) => {
    const busy = background ? 2 : 1;
    return {
      busy: 100 * busy * s,
      idle: 100 * (2 - busy) * s,
      processes: [{ pid: process.pid, ppid: 1, utime: 80 * s, stime: 20 * s }],
      joules: (10 + 20 * busy) * s,
    };
  });
}

test('a run at 100% of one core beside a background process at 100% of the other gets half the dynamic package power; alone, all of it', async () => {
  const store = Store.open(path.join(tmp('dec-attr-'), 'x.db'));
  try {
    for (const background of [true, false]) {
      // The counter wraps 0.2 s into the run (a range of 100 J: a reading late by a second
      // on a loaded machine still sees it wrap once).
      const proc = new FakeProc();
      const rapl = new FakeRapl(100_000_000, 90);
      const read = machine(proc, rapl, background);
      {
        const rec = await recorder(store, proc, rapl, read);
        // Half the readings find the counter mid-rewrite (empty): the next good one covers them.
        rapl.tearing = true;
        await sleep(600);
        rapl.tearing = false;
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
  const rec = await recorder(store, proc, rapl, machine(proc, rapl, true));
  const id = rec.id;
  await sleep(500);
  rec.epoch({ epoch: 1 }); // the power summary, as every heartbeat and epoch end writes it
  await rec.finish('failed');
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
  const read = machine(proc, rapl, false);
  try {
    const [a, b] = await Promise.all([recorder(store, proc, rapl, read), recorder(store, proc, rapl, read)]);
    await sleep(500);
    const [ea, eb] = await Promise.all([a.finish('finished'), b.finish('finished')]);
    // The process holds all the busy time: 20 W dynamic, 10 W each.
    near(ea.energy.cpu_w, 10, 0.2, 'first run');
    near(eb.energy.cpu_w, 10, 0.2, 'second run');
    near(ea.energy.cpu_w + eb.energy.cpu_w, 20, 0.1, 'both');
  } finally {
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
  const at = (processes: FakeProcess[]) => proc.set({ busy: 0, idle: 0, processes });
  const me = { pid: 500, ppid: 1, utime: 100, children: [501] };
  const child = { pid: 501, ppid: 500, utime: 40, children: [502] };
  const grandchild = { pid: 502, ppid: 501, utime: 10 };
  const stranger = { pid: 900, ppid: 1, utime: 5000 };
  at([me, child, grandchild, stranger]);
  const tree = new TreeTicks(
    new ProcReader(proc.root, (f) => proc.read(f) ?? fs.readFileSync(f, 'utf8')),
    500,
  );
  // 30 ticks of this process's threads, 20 of its child's, 5 of its grandchild's.
  at([
    { ...me, utime: 130 },
    { ...child, utime: 60 },
    { ...grandchild, utime: 15 },
    { ...stranger, utime: 9000 },
  ]);
  assert.deepEqual(tree.sample(), { ticks: 55, pids: [500, 501, 502] });
  // The grandchild ran 3 more ticks and was reaped by the child: its 18 move into the child's cutime.
  at([
    { ...me, utime: 130 },
    { ...child, utime: 60, cutime: 18, children: [] },
    { ...stranger, utime: 9999 },
  ]);
  assert.equal(tree.sample()!.ticks, 3);
  // A new child counts from zero, also under a pid used before (another start time: another process).
  const reused = { pid: 502, ppid: 500, utime: 7, start: 7777 };
  at([
    { ...me, utime: 131, children: [501, 502] },
    { ...child, utime: 60, cutime: 18, children: [] },
    reused,
  ]);
  assert.equal(tree.sample()!.ticks, 8);
  // The process's own stat unreadable for a moment: nothing is consumed, the next reading covers it.
  at([{ ...child, utime: 60, cutime: 18, children: [] }, reused]);
  assert.equal(tree.sample(), null);
  at([
    { ...me, utime: 140, children: [501, 502] },
    { ...child, utime: 60, cutime: 18, children: [] },
    reused,
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

test("macOS and Windows: the run's CPU time from process.cpuUsage(), the machine's from os.cpus()", () => {
  const runs = new RunsHere();
  const s = new CpuShareSampler({ portable: true, runs });
  assert.match(s.method, /process\.cpuUsage\(\).*os\.cpus\(\)/);
  const until = performance.now() + 150;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1); // 150 ms of this thread's time
  const c = s.sample()!;
  s.close();
  assert.ok(x > 0);
  assert.ok(c.runS >= 0.1 && c.runS < 1, `${c.runS} CPU s`);
  assert.ok(c.capacityS > 0);
  assert.deepEqual(c.pids, [process.pid]);
});
