// `process` attribution with real processes, through the CLI: a small training measured alone,
// beside a busy loop started after its idle measurement, and after a busy loop that ran during
// its idle measurement; and two trainings at once on one data folder, which never get the same
// watts twice. Each training is a few CPU seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../src/core/node/store/store.ts';
import { driveRapl, FakeRapl } from './helpers/fake-machine.ts';
import { makeFolder } from './helpers/fixtures.ts';

const bin = path.join(import.meta.dirname, '..', 'bin', 'decomposer.js');
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

interface Energy {
  kwh: number;
  seconds: number;
  attribution: string;
  run_cpu_s: number;
  busy_cpu_s: number;
}

/** A process that keeps one CPU busy until it is killed (a sibling of the run, not its child). */
function busyLoop(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

function stopLoop(p: ChildProcess | null): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    p.once('exit', () => r());
    p.kill('SIGKILL');
  });
}

/**
 * `decomposer train --json` on `data`; `onStart` runs when the training starts (its idle power
 * measured, its recorder going). Resolves with the run's energy.
 */
function trainCli(
  data: string,
  home: string,
  extra: string[],
  o: { env?: NodeJS.ProcessEnv; onStart?: () => void } = {},
): Promise<Energy> {
  return new Promise((resolve, reject) => {
    const c = spawn(
      process.execPath,
      [
        bin,
        'train',
        '--dataset',
        `folder:${data}`,
        '--size',
        '32',
        '--depth',
        '8',
        '--epochs',
        '6',
        '--batch',
        '8',
        '--home',
        home,
        '--out',
        tmp('dec-attr-run-'),
        '--json',
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } },
    );
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (!/^training on /m.test(err) && /^training on /m.test(err + d)) o.onStart?.();
      err += d;
    });
    c.on('error', reject);
    c.on('close', (code) => {
      if (code !== 0) reject(new Error(`train exited ${code}: ${err}`));
      else resolve((JSON.parse(out) as { energy: Energy }).energy);
    });
  });
}

async function classes(): Promise<string> {
  return makeFolder(
    tmp('dec-attr-data-'),
    [
      ['red', [200, 30, 30]],
      ['green', [30, 200, 30]],
      ['blue', [30, 30, 200]],
    ],
    20,
  );
}

/** The same training three ways: alone; a busy loop from its start; a busy loop until its start. */
async function threeWays(data: string, home: string, mode: string[]): Promise<Record<string, Energy>> {
  const out: Record<string, Energy> = {};
  out.alone = await trainCli(data, home, mode);
  let loop: ChildProcess | null = null;
  try {
    out['busy loop from its start'] = await trainCli(data, home, mode, {
      onStart: () => (loop = busyLoop()),
    });
  } finally {
    await stopLoop(loop);
  }
  loop = busyLoop();
  try {
    out['busy loop until its start'] = await trainCli(data, home, mode, {
      onStart: () => void stopLoop(loop),
    });
  } finally {
    await stopLoop(loop);
  }
  return out;
}

const spread = (xs: number[]) => Math.max(...xs) / Math.min(...xs);

test('process attribution: the same training alone, beside a busy loop started after idle, after one that ran during idle, agrees within 30%', async (t) => {
  const data = await classes();
  const home = tmp('dec-attr-home-');
  const process_ = await threeWays(data, home, ['--attribution', 'process', '--idle-seconds', '1']);
  const kwh = Object.values(process_).map((e) => e.kwh);
  for (const [k, e] of Object.entries(process_)) {
    assert.equal(e.attribution, 'process', k);
    assert.ok(e.kwh > 0 && e.run_cpu_s > 0, `${k}: ${JSON.stringify(e)}`);
    t.diagnostic(
      `process, ${k}: ${e.kwh.toExponential(3)} kWh, ${e.run_cpu_s.toFixed(2)} CPU s of ${e.busy_cpu_s.toFixed(2)} busy`,
    );
  }
  assert.ok(spread(kwh) <= 1.3, `process attribution spread ${spread(kwh).toFixed(2)}x: ${kwh.join(', ')}`);

  // The same three in machine attribution: recorded here, not asserted, for how far apart they are.
  const machine = await threeWays(data, home, ['--attribution', 'machine', '--idle-seconds', '1']);
  for (const [k, e] of Object.entries(machine)) {
    assert.equal(e.attribution, 'machine', k);
    t.diagnostic(`machine, ${k}: ${e.kwh.toExponential(3)} kWh`);
  }
  const m = Object.values(machine).map((e) => e.kwh);
  t.diagnostic(
    `machine attribution: ${m.some((x) => x === 0) ? 'a run measured nothing above idle' : `spread ${spread(m).toFixed(2)}x`} (process: ${spread(kwh).toFixed(2)}x)`,
  );
});

test("two trainings started together on one data folder: the sum of their energies is at most the machine's", async (t) => {
  const data = await classes();
  const home = tmp('dec-attr-home-');
  // The package draws 40 W, whatever runs.
  const rapl = new FakeRapl();
  const stop = driveRapl(rapl, (s) => 40 * s);
  try {
    const env = { DECOMPOSER_POWERCAP_ROOT: rapl.root };
    const args = ['--attribution', 'process', '--idle-seconds', '0'];
    const both = await Promise.all([
      trainCli(data, home, args, { env }),
      trainCli(data, home, args, { env }),
    ]);
    const store = Store.open(path.join(home, 'decomposer.db'));
    let union: number;
    try {
      const runs = store.runs.list({}).map((r) => {
        const start = Date.parse(r.started_at);
        return [start, start + store.runs.get(r.id)!.power!.seconds * 1000] as const;
      });
      assert.equal(runs.length, 2);
      union = (Math.max(...runs.map((r) => r[1])) - Math.min(...runs.map((r) => r[0]))) / 1000;
    } finally {
      store.close();
    }
    const joules = both.map((e) => (e.kwh * 3.6e6) / 1.58);
    for (const j of joules) assert.ok(j > 0, 'each run gets its share');
    const machineJ = 40 * union;
    t.diagnostic(
      `${joules.map((j) => j.toFixed(1)).join(' J + ')} J of the machine's ${machineJ.toFixed(1)} J`,
    );
    // Each run alone would be charged 40 W over its whole time in machine attribution: twice over.
    assert.ok(
      joules[0]! + joules[1]! <= machineJ * 1.05,
      `${joules.map((j) => j.toFixed(1)).join(' J + ')} J > the machine's ${machineJ.toFixed(1)} J over ${union.toFixed(2)} s`,
    );
    for (const e of both) assert.equal(e.attribution, 'process');
  } finally {
    stop();
  }
});
