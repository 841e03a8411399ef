// The store under the conditions an audit found it failing in: several processes writing one
// data folder at once, parallel first starts on a fresh folder, a read-only folder, a damaged
// database, a full disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store } from '../src/core/node/store/store.ts';
import {
  applyMigration,
  MIGRATIONS,
  migrate,
  SCHEMA_VERSION,
} from '../src/core/node/store/migrations/index.ts';
import { FAKE_MACHINE } from './helpers/fixtures.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { asReader, becomeReader, readerCli, readerTmp } from './helpers/reader.ts';
import { tempDir } from './helpers/temp.ts';

const machine = FAKE_MACHINE;

// Child modes: DEC_STRESS_CHILD=<db> records DEC_STRESS_N runs (start, epoch, finish) as fast
// as it can; DEC_FIRST_CHILD=<db> is a first start (open, list, close).
if (process.env.DEC_STRESS_CHILD) {
  const store = Store.open(process.env.DEC_STRESS_CHILD);
  const n = Number(process.env.DEC_STRESS_N);
  let failed = 0;
  for (let i = 0; i < n; i++) {
    try {
      const id = store.runs.start({ kind: 'train', params: { pid: process.pid, i }, machine });
      store.epochs.add(id, { epoch: 1, loss: 1 });
      store.runs.finish(id, { status: 'finished', result: { i } });
    } catch (e) {
      failed++;
      process.stderr.write(`${(e as Error).message}\n`);
    }
  }
  store.close();
  process.exit(failed ? 1 : 0);
}
if (process.env.DEC_HOLD_MIGRATION) {
  // Another process in the middle of the first migration: schema written, not yet committed.
  const db = new Database(process.env.DEC_HOLD_MIGRATION);
  db.pragma('journal_mode = WAL');
  db.exec('BEGIN IMMEDIATE');
  for (const m of MIGRATIONS) applyMigration(db, m);
  db.pragma(`user_version = ${MIGRATIONS.length}`);
  process.stdout.write('holding\n');
  await new Promise((r) => setTimeout(r, 500));
  db.exec('COMMIT');
  db.close();
  process.exit(0);
}
if (process.env.DEC_FIRST_CHILD) {
  try {
    const store = Store.open(process.env.DEC_FIRST_CHILD);
    store.runs.list();
    store.close();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
  process.exit(0);
}

/** Runs this file in child mode, `count` processes at once; their exit codes and stderr. */
async function children(
  count: number,
  env: Record<string, string>,
): Promise<{ code: number; err: string }[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ code: number; err: string }>((resolve) => {
          const c = spawn(process.execPath, [import.meta.filename], {
            env: { ...process.env, ...env },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          c.stderr.setEncoding('utf8');
          c.stderr.on('data', (d: string) => (err += d));
          c.on('exit', (code) => resolve({ code: code ?? -1, err }));
        }),
    ),
  );
}

test('four processes writing one database at once lose nothing (every write transaction takes the lock first)', async () => {
  const file = path.join(tempDir('store-rel'), 'decomposer.db');
  Store.open(file).close();
  const n = 300;
  const out = await children(4, { DEC_STRESS_CHILD: file, DEC_STRESS_N: String(n) });
  assert.deepEqual(
    out.map((o) => o.code),
    [0, 0, 0, 0],
    out.map((o) => o.err.split('\n').slice(0, 3).join(' | ')).join('\n'),
  );
  const s = Store.open(file);
  try {
    const runs = s.runs.list();
    assert.equal(runs.length, 4 * n);
    assert.ok(runs.every((r) => r.status === 'finished' && r.epochs_done === 1));
    assert.equal(new Set(runs.map((r) => r.machine?.id)).size, 1, 'one machine row, found or inserted once');
  } finally {
    s.close();
  }
});

test('parallel first starts on a fresh data folder all succeed (the schema version is read inside the migration)', async () => {
  // Deterministic: this process reads version 0 while another is migrating, then waits for it.
  const dir = tempDir('store-rel');
  const file = path.join(dir, 'decomposer.db');
  const holder = spawn(process.execPath, [import.meta.filename], {
    env: { ...process.env, DEC_HOLD_MIGRATION: file },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((r) => holder.on('exit', r));
  await new Promise<void>((resolve) => {
    holder.stdout.setEncoding('utf8');
    holder.stdout.on('data', (d: string) => d.includes('holding') && resolve());
  });
  const s = Store.open(file);
  try {
    assert.equal(s.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.deepEqual(s.runs.list(), []);
  } finally {
    s.close();
  }
  await exited;
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith('.bak')),
    [],
    'a fresh database is not backed up',
  );
  // And as it happens: three first starts at once, a few times.
  for (let round = 0; round < 3; round++) {
    const file = path.join(tempDir('store-rel'), 'fresh', 'decomposer.db');
    const out = await children(3, { DEC_FIRST_CHILD: file });
    assert.deepEqual(
      out.map((o) => o.code),
      [0, 0, 0],
      `round ${round}: ${out.map((o) => o.err).join(' | ')}`,
    );
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    db.close();
  }
});

test('a migration backs the database up first (a consistent copy at the old version)', () => {
  const dir = tempDir('store-rel');
  const file = path.join(dir, 'decomposer.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  migrate(db, 1);
  db.prepare(
    `INSERT INTO runs (kind, params_json, status, started_at, ended_at, heartbeat_at, pid, host)
     VALUES ('train', '{"old":1}', 'finished', '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z', '2025-01-01T00:01:00Z', 1, 'h')`,
  ).run();
  db.close();
  Store.open(file).close();
  const backups = fs.readdirSync(dir).filter((f) => f.endsWith('.bak'));
  assert.deepEqual(backups, ['decomposer.db.schema-1.bak']);
  const b = new Database(path.join(dir, backups[0]!), { readonly: true });
  try {
    assert.equal(b.pragma('user_version', { simple: true }), 1);
    assert.deepEqual(b.prepare('SELECT params_json FROM runs').all(), [{ params_json: '{"old":1}' }]);
  } finally {
    b.close();
  }
  // Up to date: no new backup.
  Store.open(file).close();
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.bak')).length, 1);
});

// Child mode: DEC_RO_CHILD=<db> opens a read-only data folder, lists, tries to write, and
// prints what happened as JSON. It loads all it needs before it becomes the reader.
if (process.env.DEC_RO_CHILD) {
  const out: Record<string, unknown> = {};
  const { createCoreApi } = await import('../src/core/node/api.ts');
  becomeReader();
  try {
    const s = Store.open(process.env.DEC_RO_CHILD);
    out.readOnly = s.readOnly;
    out.runs = s.runs.list().map((r) => r.params);
    try {
      s.runs.start({ kind: 'train', params: {} });
      out.wrote = true;
    } catch (e) {
      out.writeError = {
        code: (e as { code?: string }).code,
        message: (e as Error).message,
        hint: (e as { hint?: string }).hint,
      };
    }
    s.close();
    // The app's lists too.
    const api = createCoreApi({ home: path.dirname(process.env.DEC_RO_CHILD) });
    out.appRuns = (await api.listRuns()).length;
    out.appEnergyRuns = (await api.getEnergySummary()).totals.runs;
    await api.close();
  } catch (e) {
    out.openError = { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

test('a read-only data folder: reading works (runs, export), writing is refused as read-only, not as a corrupt database', () => {
  const home = readerTmp('store-rel');
  const file = path.join(home, 'decomposer.db');
  const s = Store.open(file);
  const id = s.runs.start({ kind: 'train', params: { kept: 1 } });
  s.runs.finish(id, { status: 'finished' });
  s.close();
  fs.chmodSync(file, 0o644);
  const before = fs.readFileSync(file);

  const r = asReader(home, [import.meta.filename], { DEC_RO_CHILD: file });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    readOnly: boolean;
    runs: unknown[];
    appRuns: number;
    appEnergyRuns: number;
    writeError: { code: string; message: string; hint: string };
  };
  assert.equal(out.readOnly, true, r.stdout + r.stderr);
  assert.deepEqual(out.runs, [{ kept: 1 }]);
  assert.equal(out.appRuns, 1);
  assert.equal(out.appEnergyRuns, 0);
  assert.equal(out.writeError.code, 'db-read-only');
  assert.match(out.writeError.message, new RegExp(`data folder ${home} is read-only`));
  assert.match(out.writeError.hint, /--home or DECOMPOSER_HOME.*runs, export/);

  const runs = asReader(home, [readerCli, 'runs', '--json'], { DECOMPOSER_HOME: home });
  assert.equal(runs.status, 0, runs.stderr);
  assert.match(runs.stdout, /"kept":1/);
  const csv = asReader(home, [readerCli, 'export', '--format', 'csv'], { DECOMPOSER_HOME: home });
  assert.equal(csv.status, 0, csv.stderr);
  const train = asReader(
    home,
    [readerCli, 'train', '--dataset', 'shapes', '--epochs', '1', '--idle-seconds', '0'],
    {
      DECOMPOSER_HOME: home,
    },
  );
  assert.equal(train.status, 2, train.stderr);
  assert.match(train.stderr, /is read-only/);
  assert.doesNotMatch(train.stderr, /Move it aside|not a usable/);
  assert.ok(fs.readFileSync(file).equals(before), 'the database is untouched');
});

test('a damaged database: found at open, read where it can be, never written, with the recovery command', () => {
  const file = path.join(tempDir('store-rel'), 'decomposer.db');
  const s = Store.open(file);
  for (let i = 0; i < 300; i++) s.runs.start({ kind: 'train', params: { i, pad: 'x'.repeat(200) } });
  s.close();
  // Scribble over one b-tree page's header, as a bad sector or a stray write would.
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(16, 0xab), 0, 16, 4096 * 20);
  fs.closeSync(fd);
  const before = fs.readFileSync(file);
  const d = Store.open(file);
  try {
    assert.ok(d.damage, 'quick_check found the damage');
    assert.ok(d.checkMs >= 0);
    assert.throws(
      () => d.runs.start({ kind: 'train', params: {} }),
      (e: unknown) => {
        assert.ok(isUserError(e));
        assert.equal(e.code, 'db-damaged');
        assert.ok(e.message.includes(file) && /nothing more is written/.test(e.message), e.message);
        assert.match(e.hint, /sqlite3 .*decomposer\.db "\.recover" \| sqlite3 .*decomposer\.db\.recovered/);
        return true;
      },
    );
    // Writes that bypass the store are refused by SQLite too.
    assert.throws(() => d.db.prepare(`DELETE FROM runs`).run(), /readonly/);
  } finally {
    d.close();
  }
  assert.ok(fs.readFileSync(file).equals(before), 'nothing was written into the damaged file');
});

test('a full disk: the error names the database file and what to do', () => {
  const file = path.join(tempDir('store-rel'), 'decomposer.db');
  const s = Store.open(file);
  try {
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    s.db.pragma(`max_page_count = ${s.db.pragma('page_count', { simple: true }) as number}`);
    assert.throws(
      () => s.runs.start({ kind: 'train', params: { big: 'x'.repeat(200_000) } }),
      (e: unknown) => {
        assert.ok(isUserError(e));
        assert.equal(e.code, 'db-full');
        assert.ok(e.message.includes(file), e.message);
        assert.match(e.hint, /Free space/);
        return true;
      },
    );
  } finally {
    s.close();
  }
});

test('an interrupted run keeps the energy it recorded (in the totals and on its page); a resumed run counts all its epochs', () => {
  const file = path.join(tempDir('store-rel'), 'decomposer.db');
  const s = Store.open(file);
  const power = {
    source: 'rapl',
    sources: ['fake'],
    intervalMs: 100,
    samples: 50,
    missed: 0,
    seconds: 100,
    cpuJ: 3000, // 30 W
    dramJ: 500, // 5 W
    gpuJ: 0,
    gpus: 0,
    idleSeconds: 1,
    idleCpuW: 10,
    idleDramW: 1,
    idleGpuW: 0,
  };
  const id = s.runs.start({ kind: 'train', params: { run_dir: '/x' } });
  s.runs.heartbeat(id, power);
  // A training that resumed after epoch 2 records epochs 3 and 4.
  const resumed = s.runs.start({ kind: 'train', params: {} });
  s.epochs.add(resumed, { epoch: 3 });
  s.epochs.add(resumed, { epoch: 4 });
  s.runs.finish(resumed, { status: 'finished' });
  // Its owner is gone (a pid no process has).
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  s.write(() => s.db.prepare('UPDATE runs SET pid = ?, pid_start = NULL WHERE id = ?').run(gone, id));
  s.close();

  const t = Store.open(file);
  try {
    assert.deepEqual(t.interruptedAtOpen, [id]);
    const run = t.runs.get(id)!;
    assert.equal(run.status, 'interrupted');
    // 1.58 PUE x 100 s x (20 W + 4 W above idle) = 1.58 x 2400 J
    assert.ok(run.energy, 'energy recorded up to the last heartbeat');
    assert.ok(Math.abs(run.energy.kwh - (1.58 * 2400) / 3.6e6) < 1e-12, String(run.energy.kwh));
    assert.equal(run.energy.source, 'rapl');
    assert.ok(t.runs.list().find((r) => r.id === id)!.energy, 'listed with its energy, so totals count it');
    assert.equal(t.runs.get(resumed)!.epochs_done, 4);
    assert.equal(t.runs.list().find((r) => r.id === resumed)!.epochs_done, 4);
  } finally {
    t.close();
  }
});
