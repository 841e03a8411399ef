// Nothing of the user's is deleted, and the store stays readable, where an audit found
// otherwise: an ONNX export into a folder that holds other files, `train --out` into a
// folder that is not a run folder (and a run folder with a person's files in it), a data
// folder whose name is not UTF-8, names near the 255-byte limit, the upgrade of a database
// with many runs, and a full disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { applyMigration, MIGRATIONS } from '../src/core/node/store/migrations/index.ts';
import { writeOwnedFolder, WRITTEN } from '../src/core/node/fs/owned.ts';
import { makeFolder } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';
import { BIN, cli } from './helpers/cli.ts';

/** Every file under `dir` (relative path → content), to compare before and after. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, p), e.isFile() ? fs.readFileSync(p, 'base64') : '<dir>');
  }
  return out;
}

/** A run folder trained through the CLI on a two-class image folder (seconds). */
async function trainedRun(home: string, out: string, epochs = 1) {
  const images = path.join(home, 'images');
  if (!fs.existsSync(images)) {
    fs.mkdirSync(images);
    await makeFolder(
      images,
      [
        ['red', [200, 20, 20]],
        ['blue', [20, 20, 200]],
      ],
      4,
    );
  }
  const args = ['--dataset', `folder:${images}`, '--home', home, '--idle-seconds', '0'];
  const r = cli(['train', ...args, '--depth', '8', '--epochs', String(epochs), '--out', out]);
  return { r, args };
}

test('decompose --export-onnx: a folder’s other files and sub-folders survive; only an earlier export’s own files are replaced or removed', async () => {
  const home = tempDir('user-files');
  const { r, args } = await trainedRun(home, path.join(home, 'run'));
  assert.equal(r.status, 0, r.stderr);
  const model = path.join(home, 'run', 'model');
  const dec = cli(['decompose', '--model', model, ...args, '--per-class', '4', '--json']);
  assert.equal(dec.status, 0, dec.stderr);
  const set = (JSON.parse(dec.stdout) as { modules_dir: string }).modules_dir;
  const exportTo = (dir: string) => cli(['decompose', '--model', model, '--export-onnx', set, dir]);

  // The audit's case: a folder with a portable.json of the user's, a thesis and a sub-folder.
  const d = path.join(home, 'd');
  fs.mkdirSync(path.join(d, 'chapters'), { recursive: true });
  fs.writeFileSync(path.join(d, 'portable.json'), '');
  fs.writeFileSync(path.join(d, 'thesis.tex'), '\\documentclass{article}');
  fs.writeFileSync(path.join(d, 'chapters', 'one.tex'), 'chapter one');
  const before = snapshot(d);
  const refused = exportTo(d);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /is not empty and holds no earlier export .*nothing was written/);
  assert.deepEqual(snapshot(d), before, 'every file and folder of the user is as it was');

  // An export, then the user's files beside it: exporting again replaces the export only.
  const e = path.join(home, 'e');
  assert.equal(exportTo(e).status, 0);
  const exported = fs.readdirSync(e).filter((n) => n !== WRITTEN);
  assert.deepEqual(exported.sort(), [
    'composed.onnx',
    'module-0-blue.onnx',
    'module-1-red.onnx',
    'portable.json',
  ]);
  fs.mkdirSync(path.join(e, 'notes'));
  fs.writeFileSync(path.join(e, 'notes', 'n.txt'), 'mine');
  fs.writeFileSync(path.join(e, 'thesis.tex'), 'mine');
  fs.writeFileSync(path.join(e, 'module-7-mine.onnx'), 'mine, named like a module');
  const again = exportTo(e);
  assert.equal(again.status, 0, again.stderr);
  for (const f of ['notes/n.txt', 'thesis.tex', 'module-7-mine.onnx'])
    assert.ok(fs.readFileSync(path.join(e, f), 'utf8').startsWith('mine'), f);
  assert.ok(fs.statSync(path.join(e, 'composed.onnx')).size > 1000);

  // An export made before exports kept a record: its portable.json says which files are its
  // own, so a module it lists that this export no longer writes goes, and nothing else does.
  const old = path.join(home, 'old');
  fs.mkdirSync(old);
  for (const f of exported) fs.copyFileSync(path.join(e, f), path.join(old, f));
  const index = JSON.parse(fs.readFileSync(path.join(old, 'portable.json'), 'utf8')) as {
    modules: { file: string }[];
  };
  index.modules.push({ file: 'module-9-gone.onnx' }, { file: 'thesis.tex' });
  fs.writeFileSync(path.join(old, 'portable.json'), JSON.stringify(index));
  fs.writeFileSync(path.join(old, 'module-9-gone.onnx'), 'an earlier export wrote this');
  fs.writeFileSync(path.join(old, 'thesis.tex'), 'mine');
  assert.equal(exportTo(old).status, 0);
  assert.ok(!fs.existsSync(path.join(old, 'module-9-gone.onnx')), 'the earlier export’s own file is removed');
  assert.equal(
    fs.readFileSync(path.join(old, 'thesis.tex'), 'utf8'),
    'mine',
    'an index never names a file ours',
  );

  // Deleting the module set deletes its files, not a file someone put beside them.
  fs.writeFileSync(path.join(set, 'notes.txt'), 'mine');
  assert.equal(cli(['decompose', '--model', model, '--delete', set]).status, 0);
  assert.deepEqual(fs.readdirSync(set), ['notes.txt']);
  const list = cli(['decompose', '--model', model, '--list', '--json']);
  assert.deepEqual((JSON.parse(list.stdout) as { modules: unknown[] }).modules, []);
});

test('train --out: a non-empty folder that is not a run folder is refused untouched; in a run folder only the run’s own files change', async () => {
  const home = tempDir('user-files');
  // The audit's case: model/, checkpoints/ and best.json of the user's, no config.json.
  const d = path.join(home, 'mine');
  for (const sub of ['model', 'checkpoints/epoch-001']) fs.mkdirSync(path.join(d, sub), { recursive: true });
  fs.writeFileSync(path.join(d, 'model', 'model.json'), '{"mine": true}');
  fs.writeFileSync(path.join(d, 'checkpoints', 'epoch-001', 'state.json'), 'mine');
  fs.writeFileSync(path.join(d, 'checkpoints', 'notes.txt'), 'mine');
  fs.writeFileSync(path.join(d, 'best.json'), '{"mine": true}');
  const before = snapshot(d);
  const { r: refused } = await trainedRun(home, d);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /is not empty and is not a training run folder .*nothing was written/);
  assert.match(
    refused.stderr,
    /new or empty folder \(--out DIR\), or into the folder of an earlier training/,
  );
  assert.deepEqual(snapshot(d), before, 'not a file changed, no lock or config left');
  const runs = JSON.parse(cli(['runs', '--home', home, '--json']).stdout) as { runs: unknown[] };
  assert.equal(runs.runs.length, 0, 'a refused training is not recorded');

  // A run folder with a person's files in it: resuming (a second epoch) rewrites the model
  // and prunes checkpoints, and leaves every file the run did not write.
  const run = path.join(home, 'run');
  assert.equal((await trainedRun(home, run)).r.status, 0);
  const mine = ['notes.txt', 'model/notes.txt', 'checkpoints/notes.txt', 'checkpoints/epoch-001/notes.txt'];
  for (const f of mine) fs.writeFileSync(path.join(run, f), 'mine');
  fs.mkdirSync(path.join(run, 'checkpoints', 'plots'));
  fs.writeFileSync(path.join(run, 'checkpoints', 'epoch-000-mine.txt'), 'mine');
  const modelBefore = fs.readFileSync(path.join(run, 'model', 'model.json'));
  const { r: resumed } = await trainedRun(home, run, 3);
  assert.equal(resumed.status, 0, resumed.stderr);
  for (const f of [...mine, 'checkpoints/epoch-000-mine.txt'])
    assert.equal(fs.readFileSync(path.join(run, f), 'utf8'), 'mine', f);
  assert.ok(fs.statSync(path.join(run, 'checkpoints', 'plots')).isDirectory());
  assert.notDeepEqual(
    fs.readFileSync(path.join(run, 'model', 'model.json')),
    modelBefore,
    'the model was rewritten',
  );
  // A pruned checkpoint with a person's file in it keeps that file (and so its folder), nothing of the run's.
  const pruned = fs.readdirSync(path.join(run, 'checkpoints', 'epoch-001'));
  const latest = JSON.parse(fs.readFileSync(path.join(run, 'latest.json'), 'utf8')) as { epoch: number };
  const best = JSON.parse(fs.readFileSync(path.join(run, 'best.json'), 'utf8')) as { epoch: number };
  if (latest.epoch !== 1 && best.epoch !== 1) assert.deepEqual(pruned, ['notes.txt']);
});

test('a folder write that fails before its journal leaves the old files; one killed after it is finished by the next write', async () => {
  const dir = tempDir('user-files');
  const put = (names: string[], fail = false) =>
    writeOwnedFolder(dir, 'test', async (w) => {
      for (const n of names) await w.put(n, `new ${n}`);
      if (fail) throw new Error('killed');
    });
  await put(['a', 'b']);
  await assert.rejects(put(['a', 'c'], true), /killed/);
  assert.deepEqual(fs.readdirSync(dir).sort(), [WRITTEN, 'a', 'b'].sort(), 'no temporary file is left');
  // A kill between the journal and the renames: the journal names the renames still to do.
  fs.writeFileSync(path.join(dir, '.a.99999999-0123abcd.tmp'), 'newer a');
  const record = JSON.parse(fs.readFileSync(path.join(dir, WRITTEN), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(
    path.join(dir, WRITTEN),
    JSON.stringify({
      ...record,
      files: { a: { bytes: 7, sha256: 'x' } },
      pending: { renames: [{ from: '.a.99999999-0123abcd.tmp', to: 'a' }], remove: record.files },
    }),
  );
  fs.writeFileSync(path.join(dir, 'mine'), 'mine');
  await put(['a']);
  assert.deepEqual(fs.readdirSync(dir).sort(), [WRITTEN, 'a', 'mine'].sort());
  assert.equal(fs.readFileSync(path.join(dir, 'a'), 'utf8'), 'new a');
  // A file of ours' name that the record does not list is someone else's: refused, untouched.
  await assert.rejects(put(['a', 'mine']), /was not written by Decomposer: nothing was written/);
  assert.equal(fs.readFileSync(path.join(dir, 'mine'), 'utf8'), 'mine');
});

test('a data folder whose name is not UTF-8 is refused, not silently swapped for another folder', (t) => {
  if (process.platform !== 'linux') return t.skip('needs a filesystem that takes non-UTF-8 names');
  const parent = tempDir('user-files');
  // Node cannot pass such bytes in an environment, so a shell does it.
  const r = spawnSync(
    'bash',
    [
      '-c',
      `DECOMPOSER_HOME="$(printf '%s/data\\377' "$2")" exec "$0" "$1" runs`,
      process.execPath,
      BIN,
      parent,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    /has a name that is not valid UTF-8.*Rename that folder to a UTF-8 name, or point DECOMPOSER_HOME/,
  );
  assert.deepEqual(fs.readdirSync(parent), [], 'no folder of another name was made');
  // A name with a real U+FFFD in it is a name like any other.
  const ok = cli(['runs'], { home: path.join(parent, 'data\uFFFD') });
  assert.equal(ok.status, 0, ok.stderr);
});

test('names of up to 255 bytes are written (temporary names stay within the limit); longer ones are refused saying so', () => {
  const dir = tempDir('user-files');
  for (const name of [`${'r'.repeat(236)}.csv`, `${'r'.repeat(251)}.csv`, `${'é'.repeat(125)}.csv`]) {
    const r = cli(['export', '--home', dir, '--out', path.join(dir, name)]);
    assert.equal(r.status, 0, `${Buffer.byteLength(name)} bytes: ${r.stderr}`);
    assert.ok(fs.existsSync(path.join(dir, name)));
  }
  const long = cli(['export', '--home', dir, '--out', path.join(dir, `${'é'.repeat(130)}.csv`)]);
  assert.equal(long.status, 2, long.stderr);
  assert.match(
    long.stderr,
    /is 264 bytes long; file and folder names can have at most 255\. Choose a shorter name/,
  );
  assert.ok(fs.readdirSync(dir).every((n) => !n.endsWith('.tmp')));
});

/** A database at schema `upTo` (before the current one) with `runs` finished training runs. */
function oldDatabase(file: string, upTo: number, runs: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  for (const m of MIGRATIONS.slice(0, upTo)) applyMigration(db, m);
  db.pragma(`user_version = ${upTo}`);
  const add = db.prepare(
    `INSERT INTO runs (kind, label, params_json, status, started_at, heartbeat_at, pid, host)
     VALUES ('train', ?, '{}', 'finished', '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z', 1, 'h')`,
  );
  db.transaction(() => {
    for (let i = 1; i <= runs; i++) add.run(`run ${i}`);
  })();
  db.close();
}

test('migrations: no step looks a row up by scanning a table (linear in the runs), and an upgrade through the CLI puts every run in an experiment', () => {
  // Each statement's plan, taken just before it runs: a correlated subquery that scans a
  // whole table runs once per row of the outer one (migration 4: 300k runs took minutes).
  const db = new Database(':memory:');
  for (const [i, m] of MIGRATIONS.entries()) {
    for (const stmt of m.sql.split(/;\s*\n/).filter((s) => s.replace(/--.*$/gm, '').trim())) {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${stmt}`).all() as {
        id: number;
        parent: number;
        detail: string;
      }[];
      const correlated = new Set(plan.filter((p) => /CORRELATED/.test(p.detail)).map((p) => p.id));
      for (const p of plan)
        assert.ok(
          !(correlated.has(p.parent) && /^SCAN /.test(p.detail)),
          `migration ${i + 1}: ${p.detail} once per row in: ${stmt.trim().slice(0, 80)}`,
        );
      db.exec(stmt);
    }
  }
  const file = path.join(tempDir('user-files'), 'decomposer.db');
  oldDatabase(file, 3, 2000);
  const r = cli(['runs', '--db', file, '--json', '--limit', '5000']);
  assert.equal(r.status, 0, r.stderr);
  const runs = (JSON.parse(r.stdout) as { runs: { experiment_id: number | null }[] }).runs;
  assert.equal(runs.length, 2000);
  assert.equal(new Set(runs.map((x) => x.experiment_id)).size, 2000, 'each its own experiment');
});

test('a full disk: runs lists what is recorded (an old schema migrated in memory), no partial backup is left, and a write says the disk is full', (t) => {
  const mnt = tempDir('user-files');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { encoding: 'utf8' });
  if (mounted.status !== 0)
    return t.skip(
      `a small disk to fill needs mount (root): ${mounted.stderr.trim() || mounted.error?.message}`,
    );
  try {
    for (const schema of [3, MIGRATIONS.length]) {
      const file = path.join(mnt, `s${schema}.db`);
      oldDatabase(file, schema, 5);
      const filler = path.join(mnt, 'filler');
      spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { encoding: 'utf8' });
      const bytes = fs.readFileSync(file);
      for (let i = 0; i < 2; i++) {
        const r = cli(['runs', '--db', file, '--json']);
        assert.equal(r.status, 0, `schema ${schema}: ${r.stderr}`);
        assert.equal((JSON.parse(r.stdout) as { runs: unknown[] }).runs.length, 5);
      }
      assert.ok(fs.readFileSync(file).equals(bytes), 'the database is as it was');
      assert.deepEqual(
        fs.readdirSync(mnt).filter((n) => /\.part$|\.bak$/.test(n)),
        [],
        'no partial backup, made again at each open',
      );
      fs.rmSync(filler);
    }
    // A command that records gets one clear line, before it has done any work.
    const file = path.join(mnt, 's3.db');
    spawnSync('dd', ['if=/dev/zero', `of=${path.join(mnt, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
    const elsewhere = tempDir('user-files');
    const w = cli([
      'train',
      ...['--db', file, '--home', elsewhere, '--idle-seconds', '0'],
      ...['--epochs', '1', '--depth', '8', '--out', path.join(elsewhere, 'run')],
    ]);
    assert.equal(w.status, 2, w.stderr);
    assert.match(
      w.stderr,
      /disk holding .*s3\.db is full .*nothing can be recorded.*Free space on that disk/,
    );
    // With room again, the upgrade happens, with its backup.
    fs.rmSync(path.join(mnt, 'filler'));
    assert.equal(cli(['runs', '--db', file]).status, 0);
    const bak = new Database(`${file}.schema-3.bak`, { readonly: true });
    assert.equal(bak.pragma('user_version', { simple: true }), 3);
    assert.equal((bak.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n, 5);
    bak.close();
  } finally {
    spawnSync('umount', [mnt]);
  }
});
