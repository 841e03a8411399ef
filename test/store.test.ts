import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  migrate,
  MIGRATIONS,
  SCHEMA_VERSION,
  type Migration,
} from '../src/core/node/store/migrations/index.ts';
import { Store } from '../src/core/node/store/store.ts';
import { DEFAULT_SETTINGS, effectiveSettings } from '../src/core/node/store/settings.ts';
import { RunRecorder } from '../src/core/node/measure/recorder.ts';
import { tempDir } from './helpers/temp.ts';
import { cli as decomposer } from './helpers/cli.ts';

// Child mode: this file, run with DEC_STORE_CHILD=<db>, records a run with an epoch every
// 100 ms until it is killed.
if (process.env.DEC_STORE_CHILD) {
  const store = Store.open(process.env.DEC_STORE_CHILD);
  const rec = await RunRecorder.start({
    store,
    kind: 'train',
    params: { child: true },
    settings: { ...DEFAULT_SETTINGS, idleSeconds: 0, sampleIntervalMs: 20, powercapRoot: '/nonexistent' },
    noGpu: true,
  });
  for (let epoch = 1; ; epoch++) {
    await new Promise((r) => setTimeout(r, 100));
    rec.epoch({ epoch, best: epoch === 2, loss: 1 / epoch, valAccuracy: epoch / 100 });
    process.stdout.write(`epoch ${epoch}\n`);
  }
}

const tables = (db: Database.Database) =>
  (
    db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as {
      name: string;
    }[]
  ).map((r) => r.name);

test('migrations: an empty database gets the whole schema, WAL and foreign keys', () => {
  const file = path.join(tempDir('store'), 'sub', 'a.db');
  const s = Store.open(file);
  try {
    assert.equal(s.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(s.db.pragma('foreign_keys', { simple: true }), 1);
    assert.deepEqual(tables(s.db), [
      'epochs',
      'experiments',
      'grid_rows',
      'grids',
      'machines',
      'power',
      'runs',
      'settings',
    ]);
    assert.throws(
      () => s.db.prepare(`INSERT INTO epochs (run_id, epoch, ended_at) VALUES (999, 1, 'x')`).run(),
      /FOREIGN KEY/,
    );
  } finally {
    s.close();
  }
  // Reopening applies nothing again.
  Store.open(file).close();
});

test('migrations: an older database is brought up to date, its rows kept; a newer one is refused', () => {
  const dir = tempDir('store');
  const file = path.join(dir, 'old.db');
  const db = new Database(file);
  migrate(db, 1);
  assert.equal(db.pragma('user_version', { simple: true }), 1);
  db.prepare(
    `INSERT INTO runs (kind, params_json, status, started_at, ended_at, heartbeat_at, pid, host)
     VALUES ('train', '{"old":1}', 'finished', '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z', '2025-01-01T00:01:00Z', 1, 'h')`,
  ).run();
  db.close();
  const s = Store.open(file);
  try {
    assert.equal(s.db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    const runs = s.runs.list();
    assert.equal(runs.length, 1);
    assert.deepEqual(runs[0]!.params, { old: 1 });
    assert.equal(runs[0]!.best_epoch, null);
    // Migration 4: the old run is a training experiment of its own, its role the model.
    assert.equal(runs[0]!.role, 'model');
    assert.equal(s.experiments.get(runs[0]!.experiment_id!)?.kind, 'training');
    assert.ok(!tables(s.db).includes('models'));
  } finally {
    s.close();
  }
  const newer = new Database(path.join(dir, 'new.db'));
  newer.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
  newer.close();
  assert.throws(() => Store.open(path.join(dir, 'new.db')), /newer Decomposer/);
});

test('migrations: a step may rewrite rows in code after its SQL; a step that fails leaves the database as it was', () => {
  const db = new Database(':memory:');
  migrate(db);
  db.prepare(`INSERT INTO settings (key, value_json, updated_at) VALUES ('pue', '"1.2"', 'x')`).run();
  const numbers: Migration = {
    name: 'numbers',
    sql: 'ALTER TABLE settings ADD COLUMN rewritten INTEGER NOT NULL DEFAULT 0',
    data: (d) => {
      const rows = d.prepare('SELECT key, value_json FROM settings').all() as {
        key: string;
        value_json: string;
      }[];
      for (const r of rows)
        d.prepare('UPDATE settings SET value_json = ?, rewritten = 1 WHERE key = ?').run(
          JSON.stringify(Number(JSON.parse(r.value_json))),
          r.key,
        );
    },
  };
  const steps = [...MIGRATIONS, numbers];
  assert.equal(migrate(db, steps.length, { steps }), SCHEMA_VERSION + 1);
  assert.deepEqual(db.prepare('SELECT value_json, rewritten FROM settings').get(), {
    value_json: '1.2',
    rewritten: 1,
  });

  const other = new Database(':memory:');
  migrate(other);
  const failing: Migration = {
    name: 'failing',
    sql: 'CREATE TABLE half (a)',
    data: () => {
      throw new Error('the data step failed');
    },
  };
  assert.throws(
    () => migrate(other, SCHEMA_VERSION + 1, { steps: [...MIGRATIONS, failing] }),
    /data step failed/,
  );
  assert.equal(other.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.ok(!tables(other).includes('half'), 'its SQL was rolled back with it');
});

test('migration 4: existing runs join experiments with the role their parameters say', () => {
  const file = path.join(tempDir('store'), 'v3.db');
  const db = new Database(file);
  migrate(db, 3);
  const run = (kind: string, params: object, status = 'finished', energy: object | null = null) =>
    Number(
      db
        .prepare(
          `INSERT INTO runs (kind, label, params_json, status, started_at, ended_at, heartbeat_at, pid, host, energy_json)
           VALUES (?, ?, ?, ?, '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z', '2025-01-01T00:01:00Z', 1, 'h', ?)`,
        )
        .run(
          kind,
          `${kind} ${JSON.stringify(params)}`,
          JSON.stringify(params),
          status,
          energy && JSON.stringify(energy),
        ).lastInsertRowid,
    );
  db.prepare(
    `INSERT INTO grids (id, kind, spec_json, status, created_at, updated_at) VALUES ('g1', 'reuse', '{"pick":4}', 'finished', 'x', 'x')`,
  ).run();
  const measured = { kwh: 2, co2e_kg: 1, co2e_lbs: 2.2, source: 'rapl' };
  const estimated = { kwh: 1, co2e_kg: 0.5, co2e_lbs: 1.1, source: 'estimate' };
  const ids = {
    model: run('train', { demo: true }),
    decomposition: run('decompose', { grid: 'g1', model: 'm' }, 'finished', measured),
    reuse: run('reuse', { grid: 'g1', classes: ['a', 'b'] }, 'finished', estimated),
    baseline: run('train', { grid: 'g1', baseline: 'reuse:a|b' }, 'interrupted', measured),
    option: run('evaluate', { wizard: true, option: 3 }),
    corrupt: run('evaluate', {}),
  };
  db.prepare(`UPDATE runs SET params_json = 'not json' WHERE id = ?`).run(ids.corrupt);
  db.prepare(
    `INSERT INTO grid_rows (grid_id, key, kind, run_id, row_json, created_at) VALUES ('g1', 'scenario:reuse:a|b', 'reuse', ?, '{"ma":1}', 'x')`,
  ).run(ids.reuse);
  db.close();

  const s = Store.open(file);
  try {
    // Read with SQL: the store's own readers parse params_json, which one row here corrupts.
    const byId = new Map(
      (
        s.db.prepare('SELECT id, role, scenario, experiment_id FROM runs').all() as {
          id: number;
          role: string;
          scenario: string | null;
          experiment_id: number | null;
        }[]
      ).map((r) => [r.id, r]),
    );
    assert.equal(byId.size, 6, 'no run is lost');
    assert.deepEqual(Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, byId.get(id)!.role])), {
      model: 'model',
      decomposition: 'decomposition',
      reuse: 'reuse',
      baseline: 'baseline',
      option: 'option',
      corrupt: 'evaluation',
    });
    assert.equal(byId.get(ids.baseline)!.scenario, 'reuse:a|b');
    assert.equal(byId.get(ids.option)!.scenario, 'option 3');
    // The grid's three runs share its experiment, which shows its scenario rows and totals.
    const grid = s.experiments.get(byId.get(ids.reuse)!.experiment_id!)!;
    assert.equal(grid.kind, 'grid');
    assert.equal(s.grids.experimentOf('g1'), grid.id, 'running the grid again continues its experiment');
    assert.deepEqual(
      grid.run_list.map((r) => r.id),
      [ids.decomposition, ids.reuse, ids.baseline],
    );
    assert.deepEqual(grid.scenarios, [
      { key: 'reuse:a|b', kind: 'reuse', row: { ma: 1 }, run_id: ids.reuse },
    ]);
    assert.equal(grid.kwh, 5);
    assert.equal(grid.estimated_runs, 1);
    assert.equal(grid.status, 'interrupted');
    // Every other run is an experiment of its own, of the kind its parameters say.
    const kinds = Object.fromEntries(
      (['model', 'option', 'corrupt'] as const).map((k) => [
        k,
        (
          s.db.prepare('SELECT kind FROM experiments WHERE id = ?').get(byId.get(ids[k])!.experiment_id) as {
            kind: string;
          }
        ).kind,
      ]),
    );
    assert.deepEqual(kinds, { model: 'demo', option: 'wizard', corrupt: 'evaluation' });
    assert.equal(s.experiments.list().length, 4);
  } finally {
    s.close();
  }
});

test('experiments: runs started in one share it; a run started alone is its own', () => {
  const s = Store.open(path.join(tempDir('store'), 'e.db'));
  try {
    const demo = s.experiments.start({
      kind: 'demo',
      label: 'Demo on shapes',
      params: { dataset: 'shapes' },
    });
    const a = s.runs.start({ kind: 'train', params: {}, experimentId: demo });
    const b = s.runs.start({
      kind: 'train',
      params: {},
      experimentId: demo,
      role: 'baseline',
      scenario: 'reuse:x|y',
    });
    const alone = s.runs.start({ kind: 'decompose', params: {}, label: 'decompose m' });
    const e = s.experiments.get(demo)!;
    assert.deepEqual(
      e.run_list.map((r) => [r.id, r.role, r.scenario]),
      [
        [a, 'model', null],
        [b, 'baseline', 'reuse:x|y'],
      ],
    );
    assert.equal(e.status, 'running');
    const own = s.experiments.get(s.runs.get(alone)!.experiment_id!)!;
    assert.deepEqual([own.kind, own.label, own.runs], ['decomposition', 'decompose m', 1]);
    assert.deepEqual(
      s.experiments.list().map((x) => x.id),
      [own.id, demo],
    );
    assert.throws(
      () => s.runs.start({ kind: 'train', params: {}, role: 'nonsense' as never }),
      /unknown run role/,
    );
  } finally {
    s.close();
  }
});

test('settings: defaults, stored values, validation, environment and overrides', () => {
  const s = Store.open(path.join(tempDir('store'), 's.db'));
  try {
    assert.deepEqual(s.settings.read(), DEFAULT_SETTINGS);
    assert.equal(DEFAULT_SETTINGS.pue, 1.58);
    assert.equal(DEFAULT_SETTINGS.intensity, 0.954);
    s.settings.write('pue', 1.2);
    s.settings.write('idleSeconds', '3');
    assert.throws(() => s.settings.write('pue', 'abc'), /must be a number/);
    assert.throws(() => s.settings.write('sampleIntervalMs', 1), /a number from 10 to 60,000/);
    assert.equal(s.settings.read().pue, 1.2);
    assert.equal(s.settings.read().idleSeconds, 3);
    const e = effectiveSettings(
      s.settings,
      { idleSeconds: 0 },
      { DECOMPOSER_POWERCAP_ROOT: '/x', DECOMPOSER_NVIDIA_SMI: '/y/nvidia-smi' },
    );
    assert.deepEqual([e.pue, e.idleSeconds, e.powercapRoot, e.nvidiaSmi], [1.2, 0, '/x', '/y/nvidia-smi']);
  } finally {
    s.close();
  }
});

test('a run killed with SIGKILL mid-run shows as interrupted at the next start, with its finished epochs', async () => {
  const dir = tempDir('store');
  const file = path.join(dir, 'k.db');
  const child = spawn(process.execPath, [import.meta.filename], {
    env: { ...process.env, DEC_STORE_CHILD: file },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`child exited ${code} early`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      seen += (d.match(/epoch \d+/g) ?? []).length;
      if (seen >= 3) {
        child.removeAllListeners('exit');
        child.kill('SIGKILL');
        child.on('exit', () => resolve());
      }
    });
  });
  const s = Store.open(file);
  try {
    assert.deepEqual(s.interruptedAtOpen, [1]);
    assert.equal(s.db.pragma('integrity_check', { simple: true }), 'ok');
    const run = s.runs.get(1)!;
    assert.equal(run.status, 'interrupted');
    assert.ok(run.epochs.length >= 3, `${run.epochs.length} epochs kept`);
    assert.deepEqual(
      run.epochs.slice(0, 3).map((e) => e.epoch),
      [1, 2, 3],
    );
    assert.ok(run.epochs.every((e) => e.energy && e.energy.source === 'estimate'));
    assert.equal(run.best_epoch, 2);
    assert.ok(run.power && run.power.samples > 0);
    assert.ok(run.machine?.cpu_model);
  } finally {
    s.close();
  }

  // The CLI lists and exports it.
  const cli = (args: string[]) => decomposer([...args, '--db', file]);
  const list = cli(['runs', '--json']);
  assert.equal(list.status, 0, list.stderr);
  const j = JSON.parse(list.stdout) as { runs: { id: number; status: string; epochs_done: number }[] };
  assert.equal(j.runs[0]!.status, 'interrupted');
  const show = cli(['runs', 'show', '1']);
  assert.match(show.stdout, /interrupted/);
  assert.match(show.stdout, /epoch 2\*/);
  const csvFile = path.join(dir, 'runs.csv');
  const csv = cli(['export', '--out', csvFile]);
  assert.equal(csv.status, 0, csv.stderr);
  const lines = fs.readFileSync(csvFile, 'utf8').trim().split('\n');
  assert.match(lines[0]!, /^id,kind,label,status,.*co2e_kg/);
  assert.match(lines[1]!, /^1,train,,interrupted,/);
  const json = cli(['export', '--format', 'json']);
  assert.equal((JSON.parse(json.stdout) as { runs: unknown[] }).runs.length, 1);
  assert.equal(cli(['runs', 'show', '42']).status, 2);
});
