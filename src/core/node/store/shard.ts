// A shard: the store one task of a grid's plan ran into, on its node's own disk, published
// into the shared folder as one file (VACUUM INTO, then an atomic rename: SQLite's WAL does
// not work on a network filesystem, so no process writes a shared database) with its power
// traces beside it; read back without writing (the merge, and phase two reading phase one's
// decompositions).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describeError, UserError } from '../../common/errors.ts';
import { v } from '../../common/schema.ts';
import { SCHEMA_VERSION } from './migrations/index.ts';
import type { Store } from './store.ts';

/** A published shard's file name in the shared folder, by its task's index. */
export const shardName = (index: number) => `task-${index}.db`;

/** Opens a shard for reading; refuses what is not one, or one of another schema version. */
export function openShard(file: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new UserError(
      `Cannot open the shard ${file} (${describeError(e)}).`,
      'Give the task-N.db files the tasks published (decomposer task … --publish DIR).',
      'shard-bad',
    );
  }
  let version: number;
  try {
    version = Number(db.pragma('user_version', { simple: true }));
  } catch (e) {
    db.close();
    throw new UserError(
      `${file} is not a Decomposer database (${describeError(e)}).`,
      'Give the task-N.db files the tasks published.',
      'shard-bad',
    );
  }
  if (version !== SCHEMA_VERSION) {
    db.close();
    throw new UserError(
      `The shard ${file} has schema version ${version}; this Decomposer writes version ${SCHEMA_VERSION}.`,
      'Run every task and the merge with the same Decomposer version: re-run that task with this one.',
      'shard-schema',
    );
  }
  return db;
}

const DecomposeRow = v.object({ row_json: v.string(), run_id: v.nullable(v.number()) });

/** The row phase one recorded for a model's decomposition in `file`, or null when it holds none. */
export function shardPiece(
  file: string,
  gridId: string,
  key: string,
): { row: unknown; runId: number | null } | null {
  const db = openShard(file);
  try {
    const r = v.safeParse(
      DecomposeRow,
      db.prepare('SELECT row_json, run_id FROM grid_rows WHERE grid_id = ? AND key = ?').get(gridId, key),
    );
    return r.success ? { row: JSON.parse(r.output.row_json) as unknown, runId: r.output.run_id } : null;
  } finally {
    db.close();
  }
}

/**
 * Publishes `store` as shard `index` in `dir`: its power traces first (each copied, then
 * renamed into dir/traces), then the database, VACUUM'd INTO a temporary file there (one file,
 * no WAL) whose traces point at the published ones, renamed over any earlier copy. A reader
 * sees the earlier shard or this one, never half of one. Returns the published file.
 */
export function publishShard(store: Store, dir: string, index: number): string {
  const target = path.resolve(dir, shardName(index));
  fs.mkdirSync(path.join(dir, 'traces'), { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(dir, `.${shardName(index)}.${tag}.tmp`);
  const traces = store.db.prepare('SELECT run_id, trace_file FROM power WHERE trace_file IS NOT NULL').all();
  const moved: [number, string][] = [];
  try {
    for (const t of traces as { run_id: number; trace_file: string }[]) {
      const from = path.resolve(path.dirname(store.file), t.trace_file);
      if (!fs.existsSync(from)) continue;
      const name = path.join('traces', `task-${index}-${path.basename(t.trace_file)}`);
      const part = path.join(dir, `${name}.${tag}.tmp`);
      fs.copyFileSync(from, part);
      fs.renameSync(part, path.join(dir, name));
      moved.push([t.run_id, name]);
    }
    store.db.prepare('VACUUM INTO ?').run(tmp);
    const copy = new Database(tmp);
    try {
      const set = copy.prepare('UPDATE power SET trace_file = ? WHERE run_id = ?');
      copy.transaction(() => {
        for (const [runId, name] of moved) set.run(name, runId);
      })();
    } finally {
      copy.close();
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new UserError(
      `Cannot publish the shard to ${target} (${describeError(e)}).`,
      "Check the shared folder exists and has room; the task's own database is kept: run the task again to publish it.",
      'shard-publish',
    );
  }
  return target;
}
