// Merging shards (the stores a grid's tasks ran into, each on its own node) into one store.
// Runs and experiments are matched by their stable ids (uid), machines by their fingerprint,
// grids by their id and a grid's pieces by their key; every id a copied row holds (its
// machine, experiment and run, and the run ids inside a grid's rows) is rewritten to the
// store's own. A row already there is kept once, so merging a shard again changes nothing.
// Each shard is merged in one transaction: a merge killed half way leaves the store as it was
// before that shard.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { tempSibling } from '../fs/atomic.ts';
import { openShard } from './shard.ts';
import type { Store } from './store.ts';

export interface ShardMerged {
  file: string;
  runs_added: number;
  runs_known: number;
  experiments_added: number;
  grid_rows_added: number;
  machines_added: number;
}

type Row = Record<string, unknown>;

/** The columns of `table` other than `skip`, as the store's schema has them. */
function columns(db: Database.Database, table: string, skip: string[] = []): string[] {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[])
    .map((c) => c.name)
    .filter((c) => !skip.includes(c));
}

function insert(db: Database.Database, table: string, row: Row, cols: string[], conflict = ''): number {
  const r = db
    .prepare(
      `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')}) ${conflict}`,
    )
    .run(Object.fromEntries(cols.map((c) => [c, row[c] ?? null])));
  return r.changes ? Number(r.lastInsertRowid) : 0;
}

/** The run ids inside a grid's row (a scenario's run_ids, a baseline's runId), rewritten. */
export function rewriteRowIds(text: string, runs: Map<number, number>): string {
  const row = JSON.parse(text) as Row;
  const map = (x: unknown) => (typeof x === 'number' ? (runs.get(x) ?? null) : x);
  if (row.run_ids && typeof row.run_ids === 'object') {
    const ids = row.run_ids as Row;
    row.run_ids = Object.fromEntries(Object.entries(ids).map(([k, x]) => [k, map(x)]));
  }
  if ('runId' in row) row.runId = map(row.runId);
  return JSON.stringify(row);
}

/** A training's result names the earlier attempts its energy carries: their ids rewritten. */
function rewriteResult(text: unknown, runs: Map<number, number>): unknown {
  if (typeof text !== 'string') return text;
  try {
    const r = JSON.parse(text) as { energy_carried?: { from_runs?: unknown } };
    const from = r.energy_carried?.from_runs;
    if (!Array.isArray(from)) return text;
    r.energy_carried!.from_runs = from.map((x) => (typeof x === 'number' ? (runs.get(x) ?? x) : x));
    return JSON.stringify(r);
  } catch {
    return text;
  }
}

/** A trace copied beside the store (inside the merge's transaction, so synchronously). */
function copyAtomic(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const tmp = tempSibling(to);
  fs.copyFileSync(from, tmp);
  fs.renameSync(tmp, to);
}

/**
 * Each row of `table` in the shard, matched in the store by `key` or else inserted (`fix`ed
 * first): the shard's id → the store's, and the shard's ids that were inserted.
 */
function matchRows(
  db: Database.Database,
  shard: Database.Database,
  table: string,
  key: string,
  fix: (r: Row) => Row = (r) => r,
): { ids: Map<number, number>; added: number[] } {
  const ids = new Map<number, number>();
  const added: number[] = [];
  const cols = columns(db, table, ['id']);
  const find = db.prepare(`SELECT id FROM ${table} WHERE ${key} = ?`);
  for (const r of shard.prepare(`SELECT * FROM ${table} ORDER BY id`).all() as Row[]) {
    const known = find.get(r[key]) as { id: number } | undefined;
    if (known) ids.set(Number(r.id), known.id);
    else {
      ids.set(Number(r.id), insert(db, table, fix(r), cols));
      added.push(Number(r.id));
    }
  }
  return { ids, added };
}

/** Merges one shard into `home` (one transaction); see the file's head for the rules. */
export function mergeShard(home: Store, file: string): ShardMerged {
  const shard = openShard(file);
  const out: ShardMerged = {
    file,
    runs_added: 0,
    runs_known: 0,
    experiments_added: 0,
    grid_rows_added: 0,
    machines_added: 0,
  };
  const db = home.db;
  const traceDir = path.join(path.dirname(home.file), 'traces');
  try {
    home.write(() => {
      const machines = matchRows(db, shard, 'machines', 'fingerprint');
      const experiments = matchRows(db, shard, 'experiments', 'uid');
      const ref = (ids: Map<number, number>, x: unknown) =>
        x === null ? null : (ids.get(Number(x)) ?? null);
      const { ids: runs, added } = matchRows(db, shard, 'runs', 'uid', (r) => ({
        ...r,
        machine_id: ref(machines.ids, r.machine_id),
        experiment_id: ref(experiments.ids, r.experiment_id),
      }));
      out.machines_added = machines.added.length;
      out.experiments_added = experiments.added.length;
      out.runs_added = added.length;
      out.runs_known = runs.size - added.length;
      // Results name earlier runs only once every run's new id is known.
      for (const old of added) {
        const r = shard.prepare('SELECT result_json FROM runs WHERE id = ?').get(old) as Row;
        db.prepare('UPDATE runs SET result_json = ? WHERE id = ?').run(
          rewriteResult(r.result_json, runs),
          runs.get(old),
        );
      }
      const epochCols = columns(db, 'epochs');
      const powerCols = columns(db, 'power');
      for (const old of added) {
        const id = runs.get(old)!;
        for (const e of shard.prepare('SELECT * FROM epochs WHERE run_id = ?').all(old) as Row[])
          insert(db, 'epochs', { ...e, run_id: id }, epochCols);
        for (const p of shard.prepare('SELECT * FROM power WHERE run_id = ?').all(old) as Row[]) {
          let trace: string | null = null;
          if (typeof p.trace_file === 'string') {
            const from = path.resolve(path.dirname(file), p.trace_file);
            if (fs.existsSync(from)) {
              const to = path.join(traceDir, `run-${id}.f32`);
              copyAtomic(from, to);
              trace = path.relative(path.dirname(home.file), to);
            }
          }
          insert(
            db,
            'power',
            { ...p, run_id: id, trace_file: trace, trace_format: trace ? p.trace_format : null },
            powerCols,
          );
        }
      }
      for (const g of shard.prepare('SELECT * FROM grids').all() as Row[]) {
        const exp = ref(experiments.ids, g.experiment_id);
        insert(
          db,
          'grids',
          { ...g, experiment_id: exp, status: 'running' },
          columns(db, 'grids'),
          'ON CONFLICT(id) DO NOTHING',
        );
        db.prepare('UPDATE grids SET experiment_id = COALESCE(experiment_id, ?) WHERE id = ?').run(exp, g.id);
      }
      for (const p of shard.prepare('SELECT * FROM grid_rows').all() as Row[]) {
        const runId = ref(runs, p.run_id);
        const row = rewriteRowIds(String(p.row_json), runs);
        if (
          insert(
            db,
            'grid_rows',
            { ...p, run_id: runId, row_json: row },
            columns(db, 'grid_rows'),
            'ON CONFLICT(grid_id, key) DO NOTHING',
          )
        )
          out.grid_rows_added++;
      }
      // A task's ending: a finished one is kept; a failed one gives way to a later attempt.
      for (const t of shard.prepare('SELECT * FROM grid_tasks').all() as Row[])
        insert(
          db,
          'grid_tasks',
          t,
          columns(db, 'grid_tasks'),
          `ON CONFLICT(grid_id, task_index) DO UPDATE SET
             status = excluded.status, error = excluded.error, host = excluded.host, scheduler_json = excluded.scheduler_json,
             started_at = excluded.started_at, ended_at = excluded.ended_at
           WHERE grid_tasks.status != 'finished'`,
        );
      // A grid is finished once every task of its plan has finished.
      db.prepare(
        `UPDATE grids SET status = CASE WHEN (SELECT COUNT(*) FROM grid_tasks t WHERE t.grid_id = grids.id AND t.status = 'finished')
             >= (SELECT MAX(tasks) FROM grid_tasks t WHERE t.grid_id = grids.id) THEN 'finished' ELSE 'running' END
         WHERE id IN (SELECT grid_id FROM grid_tasks)`,
      ).run();
    });
  } finally {
    shard.close();
  }
  return out;
}
