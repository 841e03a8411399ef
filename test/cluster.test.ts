// Grids across machines (issue 24), through the CLI as a cluster runs it: a grid written as a
// plan, each task into its own shard, the shards merged; the grid then shows the same rows as
// when it ran in one process, its energy is the shards' sum, and a second merge adds nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import Database from 'better-sqlite3';
import { createCoreApi } from '../src/core/node/api.ts';
import { cli, startCli } from './helpers/cli.ts';
import { ok, QUIET, sameRow, tinyGrid, tinyGridModel, type GridRow } from './helpers/grid.ts';
import { makeFolder } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

type Row = GridRow;
const same = sameRow;

/** The recorded energy of a store's runs, summed (kWh), and how many runs. */
function energy(db: string): { kwh: number; runs: number } {
  const j = JSON.parse(ok(cli(['runs', '--db', db, '--limit', '1000', '--json']))) as {
    runs: { energy: { kwh: number } | null }[];
  };
  return { kwh: j.runs.reduce((n, r) => n + (r.energy?.kwh ?? 0), 0), runs: j.runs.length };
}

/** A merge's output where tasks are left: exit 3 ("incomplete"), the shards merged all the same. */
function incomplete(r: ReturnType<typeof cli>): string {
  assert.equal(r.status, 3, r.stderr);
  return r.stdout;
}

test('a grid as plan, tasks into shards and merge gives the rows of the grid run in one process', async () => {
  const root = tempDir('cluster');
  const one = path.join(root, 'one');
  const quiet = QUIET;
  const model = tinyGridModel(path.join(root, 'a'), one);
  const grid = tinyGrid(model);
  const single = JSON.parse(ok(cli([...grid, '--json', ...quiet], { home: one }))) as {
    grid: string;
    rows: Row[];
  };

  // The plan: written, nothing run.
  const home = path.join(root, 'cluster');
  const plan = path.join(root, 'grid.json');
  const planned = ok(cli([...grid, ...quiet, '--out', path.join(root, 'shared'), '--plan', plan], { home }));
  assert.match(planned, /^4 tasks: 1 decomposition\(s\) \(phase one: tasks 0-0\), then 3 baseline\(s\)/m);
  const p = JSON.parse(readFileSync(plan, 'utf8')) as {
    id: string;
    models: { sha256: string }[];
    site: { pue: number; intensity: number };
    tasks: { phase: number; baseline?: string }[];
  };
  assert.equal(p.id, single.grid, 'the same grid');
  assert.match(p.models[0]!.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(p.site, { pue: 1.58, intensity: 0.954 });
  assert.deepEqual(
    p.tasks.map((t) => t.phase),
    [1, 2, 2, 2],
  );
  assert.equal(energy(path.join(home, 'decomposer.db')).runs, 0, 'writing a plan runs nothing');
  // The plan is read back with its schema: a broken field is named, with its rule.
  const broken = path.join(root, 'broken.json');
  writeFileSync(broken, JSON.stringify({ ...p, site: { ...p.site, pue: 9 } }));
  const refused = cli(['task', broken, '--index', '0'], { home });
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /site\.pue: must be a number from 1 to 5 \(got 9\)/);

  // Each task into its own database, published into the plan's shards folder; the index from
  // --index, a Slurm array's SLURM_ARRAY_TASK_ID or an Indexed Job's JOB_COMPLETION_INDEX.
  const local = (i: number) => path.join(root, `node-${i}`, 'task.db');
  ok(cli(['task', plan, '--index', '0', '--db', local(0)], { home }));
  const shards = path.join(root, 'grid-shards');
  // Task 1's baseline folder still locked by its first attempt on another node (killed there):
  // another task is refused; the same Slurm array task, requeued here, takes it over.
  const baselineDir = path.join(
    root,
    'shared',
    'baselines',
    createHash('sha256').update(`${p.id}|${p.tasks[1]!.baseline}`).digest('hex').slice(0, 16),
  );
  mkdirSync(baselineDir, { recursive: true });
  writeFileSync(
    path.join(baselineDir, 'run.lock'),
    JSON.stringify({ pid: 1, host: 'node-elsewhere', started_at: 'x', task: 'slurm:77_1' }),
  );
  const slurm = (job: string) => ({
    SLURM_JOB_ID: `9${job}`,
    SLURM_ARRAY_JOB_ID: job,
    SLURM_ARRAY_TASK_ID: '1',
  });
  const other = cli(['task', plan, '--db', local(1)], { home, env: slurm('88') });
  assert.equal(other.status, 2, other.stderr);
  assert.match(other.stderr, /in use by process 1 on node-elsewhere/);
  // A merge that leaves tasks to run says which, and exits 3 so a script or a scheduler sees it.
  const failed = incomplete(
    cli(['merge', path.join(shards, 'task-0.db'), path.join(shards, 'task-1.db')], { home }),
  );
  assert.match(failed, /1 of 4 tasks finished/);
  assert.match(failed, /missing: tasks 2, 3/);
  assert.match(failed, /failed: task 1 on .*in use by process 1 on node-elsewhere/);
  assert.ok(failed.includes(`re-run: decomposer task ${plan} --index 1`), failed);
  ok(cli(['task', plan, '--db', local(1)], { home, env: { ...slurm('77'), SLURM_CPUS_ON_NODE: '2' } }));
  ok(cli(['task', plan, '--db', local(2)], { home, env: { JOB_COMPLETION_INDEX: '2' } }));

  // A merge missing a shard says which task is left and how to run it.
  const partial = incomplete(
    cli(['merge', ...[0, 1, 2].map((i) => path.join(shards, `task-${i}.db`))], { home }),
  );
  assert.match(partial, /3 of 4 tasks finished/);
  assert.match(partial, /missing: tasks 3/);
  assert.doesNotMatch(partial, /failed/);
  assert.ok(partial.includes(`re-run: decomposer task ${plan} --index 3`), partial);

  ok(cli(['task', plan, '--index', '3', '--db', local(3)], { home }));
  // As if task 3 ran on another node: its shard's machine is another host.
  const t3 = new Database(path.join(shards, 'task-3.db'));
  t3.prepare(`UPDATE machines SET hostname = 'node-b', fingerprint = fingerprint || 'b'`).run();
  t3.close();
  const merged = ok(cli(['merge', shards], { home }));
  assert.match(merged, /4 of 4 tasks finished/);
  assert.doesNotMatch(merged, /missing|re-run/);
  const store = path.join(home, 'decomposer.db');
  const after = energy(store);
  const parts = [0, 1, 2, 3].map((i) => energy(local(i)));
  assert.equal(
    after.runs,
    parts.reduce((n, x) => n + x.runs, 0),
  );
  assert.ok(Math.abs(after.kwh - parts.reduce((n, x) => n + x.kwh, 0)) < 1e-15, 'energy: the shards sum');

  // A second merge changes nothing.
  const again = JSON.parse(ok(cli(['merge', shards, '--json'], { home }))) as {
    shards: { runs_added: number; grid_rows_added: number }[];
  };
  assert.ok(again.shards.every((s) => s.runs_added === 0 && s.grid_rows_added === 0));
  assert.deepEqual(energy(store), after);

  // The grid with the same options shows the one-process rows, with the merged store's runs.
  const shown = JSON.parse(
    ok(cli([...grid, '--json', ...quiet, '--out', path.join(root, 'shared')], { home })),
  ) as { grid: string; rows: Row[]; machines: { hostname: string }[] };
  assert.equal(shown.grid, single.grid);
  assert.deepEqual(shown.rows.map(same), single.rows.map(same));
  assert.equal(energy(store).runs, after.runs, 'shown from the store: nothing ran again');
  const runs = JSON.parse(ok(cli(['runs', '--db', store, '--limit', '1000', '--json']))) as {
    runs: { id: number; experiment_id: number }[];
  };
  const ids = new Set(runs.runs.map((r) => r.id));
  for (const r of shown.rows) {
    assert.ok(ids.has(r.run_ids.scenario!) && ids.has(r.run_ids.baseline!), 'run ids rewritten to the store');
  }
  assert.equal(new Set(runs.runs.map((r) => r.experiment_id)).size, 1, 'one experiment, as in one process');
  // The app's Compare page draws the merged experiment's scenarios (its API, as the page calls it).
  const shownInApp = await createCoreApi({ home }).getExperiment(runs.runs[0]!.experiment_id);
  assert.deepEqual(
    shownInApp.scenarios.map((x) => [x.classes, x.ma, x.tma]).sort(),
    single.rows.map((r) => [r.classes, r.ma, r.tma]).sort(),
  );
  // Where each piece ran: two machines, said with the table; the requeued task's scheduler.
  assert.deepEqual(
    shown.machines.map((m) => m.hostname),
    [os.hostname(), 'node-b'].sort(),
  );
  assert.match(
    ok(cli([...grid, ...quiet, '--out', path.join(root, 'shared')], { home })),
    /runs from 2 machines/,
  );
  // The app's experiment says so too (the Compare page's note).
  assert.deepEqual(
    shownInApp.machines.map((m) => m.hostname),
    [os.hostname(), 'node-b'].sort(),
  );
  const baseline = JSON.parse(
    ok(cli(['runs', 'show', String(shown.rows[0]!.run_ids.baseline), '--db', store, '--json'])),
  ) as {
    run: {
      scheduler: { scheduler: string; array_job_id: string; array_task_id: number; cpus: number } | null;
    };
  };
  assert.deepEqual(
    { ...baseline.run.scheduler, job_id: undefined, node: undefined, gpus: undefined, exclusive: undefined },
    {
      scheduler: 'slurm',
      array_job_id: '77',
      array_task_id: 1,
      cpus: 2,
      job_id: undefined,
      node: undefined,
      gpus: undefined,
      exclusive: undefined,
    },
  );
});

test('merge refuses a shard of another schema version; task refuses a broken plan, naming the field', () => {
  const root = tempDir('cluster-bad');
  const shard = path.join(root, 'task-0.db');
  ok(cli(['runs', '--db', shard, '--json']));
  const db = new Database(shard);
  db.pragma('user_version = 5');
  db.close();
  const r = cli(['merge', shard, '--home', root]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /schema version 5; this Decomposer writes version 6/);

  const plan = path.join(root, 'plan.json');
  writeFileSync(plan, JSON.stringify({ format: 'decomposer-grid-plan', version: 1, tasks: [] }));
  const bad = cli(['task', plan, '--index', '0', '--home', root]);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /The plan .*plan\.json is not valid: kind: must be reuse, replace or trainings/);
  const noIndex = cli(['task', plan, '--home', root]);
  assert.equal(noIndex.status, 2);
  assert.match(noIndex.stderr, /No task index/);
});

test('a task killed mid-baseline and run again on another node resumes, carrying the energy its run folder kept', async () => {
  const root = tempDir('cluster-kill');
  const home = path.join(root, 'home');
  const plan = path.join(root, 'grid.json');
  const model = tinyGridModel(path.join(root, 'a'), home);
  ok(
    cli([...tinyGrid(model, 2, 3), '--baseline-patience', '3', ...QUIET, '--plan', plan], {
      home,
    }),
  );
  ok(cli(['task', plan, '--index', '0', '--db', path.join(root, 'node-a', 'task.db')], { home }));
  // Node A dies after the baseline's first epoch (its database with it).
  const child = startCli(['task', plan, '--index', '1', '--db', path.join(root, 'node-a', 'task1.db')], {
    home,
    env: { HOLD_AT: 'epoch 1/3' },
    nodeArgs: ['--import', path.join(import.meta.dirname, 'helpers', 'hold-at.ts')],
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('epoch 1/3')) resolve();
    });
    child.once('exit', () => reject(new Error(`the task ended before its first epoch: ${err}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  // Node B: a new database of its own; the run folder (shared) has the checkpoint and the ledger.
  const b = path.join(root, 'node-b', 'task.db');
  ok(cli(['task', plan, '--index', '1', '--db', b], { home }));
  const runs = JSON.parse(ok(cli(['runs', '--db', b, '--kind', 'train', '--json']))) as {
    runs: { result: { resumed_from: number; energy_carried?: Record<string, unknown> } }[];
  };
  assert.equal(runs.runs.length, 1);
  const r = runs.runs[0]!.result;
  assert.equal(r.resumed_from, 1);
  assert.deepEqual(r.energy_carried, { from_runs: [], through_epoch: 1, complete: true, from_run_folder: 1 });
});

const made = (dir: string) => {
  mkdirSync(dir, { recursive: true });
  return dir;
};

test('a list of trainings as a plan: one task each, merged into one store', async () => {
  const root = tempDir('cluster-train');
  const home = path.join(root, 'home');
  const a = await makeFolder(made(path.join(root, 'a')), [
    ['red', [200, 30, 30]],
    ['blue', [30, 30, 200]],
  ]);
  const b = await makeFolder(made(path.join(root, 'b')), [
    ['green', [30, 200, 30]],
    ['grey', [120, 120, 120]],
  ]);
  const train = ['train', '--dataset', `folder:${a},folder:${b}`, '--size', '16', '--epochs', '1', ...QUIET];
  const list = cli([...train, '--depth', '8,14'], { home });
  assert.equal(list.status, 2);
  assert.match(list.stderr, /A list of depths or seeds trains several models/);
  assert.match(list.stderr, /--plan FILE/);

  const plan = path.join(root, 'models.json');
  const models = path.join(root, 'models');
  const written = ok(cli([...train, '--depth', '8', '--out', models, '--plan', plan], { home }));
  assert.match(written, /^2 trainings, one task each \(tasks 0-1\)/m);
  const dry = ok(cli(['submit', 'slurm', plan, '--dry-run', '--home', home]));
  assert.match(readFileSync(path.join(root, 'models-slurm', 'phase1.sh'), 'utf8'), /^#SBATCH --array=0-1$/m);
  assert.doesNotMatch(dry, /phase2/);

  for (const i of [0, 1])
    ok(cli(['task', plan, '--index', String(i), '--db', path.join(root, `node-${i}.db`)], { home }));
  assert.match(ok(cli(['merge', path.join(root, 'models-shards')], { home })), /2 of 2 tasks finished/);
  const runs = JSON.parse(ok(cli(['runs', '--home', home, '--kind', 'train', '--json']))) as {
    runs: { status: string; result: { model_dir: string } }[];
  };
  assert.deepEqual(
    runs.runs.map((r) => r.status),
    ['finished', 'finished'],
  );
  assert.ok(
    runs.runs.every((r) => r.result.model_dir.startsWith(models)),
    'each run folder in --out',
  );
  assert.equal(new Set(runs.runs.map((r) => r.result.model_dir)).size, 2);
});

test("under a scheduler only the job's GPUs are read: decomposer energy names them and the others left out", () => {
  const bin = tempDir('cluster-gpus');
  const smi = path.join(bin, 'nvidia-smi');
  writeFileSync(smi, '#!/bin/sh\nfor i in 0 1 2 3; do echo "$i, NVIDIA Fake, 10$i.00"; done\n', {
    mode: 0o755,
  });
  const probe = (env: Record<string, string>) =>
    JSON.parse(ok(cli(['energy', '--json', '--nvidia-smi', smi], { home: bin, env }))) as {
      nvidia: { measured: number[] };
      lines: string[];
    };
  assert.deepEqual(probe({}).nvidia.measured, [0, 1, 2, 3]);
  const slurm = probe({ SLURM_JOB_ID: '5', SLURM_JOB_GPUS: '1,3' });
  assert.deepEqual(slurm.nvidia.measured, [1, 3]);
  assert.match(
    slurm.lines.join('\n'),
    /used for 2 GPU\(s\): 1 NVIDIA Fake .*3 NVIDIA Fake.*2 GPU\(s\) of this node not allocated to this job: not read/,
  );
});
