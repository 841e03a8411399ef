// The database's health, and what the store tells a person when SQLite refuses: a read-only
// data folder, a damaged file, a full disk, a database another process keeps busy. Each is a
// UserError naming the file and what to do (never "move it aside" for a file that is fine).
//
// A read-only folder: SQLite cannot read a WAL database there (it needs to create the -shm
// file next to it), so a read-only store reads a private snapshot copy instead, and refuses
// every write. A damaged file: PRAGMA quick_check at open (linear in the file's size, which
// stays small: runs and epochs, not traces); once damage is seen, nothing more is written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { UserError } from '../../common/errors.ts';

/** Whether this process can write the database file and create files next to it. */
export function dataFolderWritable(file: string): boolean {
  const can = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.W_OK);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
  };
  return can(path.dirname(file)) && can(file) && can(`${file}-wal`) && can(`${file}-shm`);
}

/** Copies the database (and its WAL) to a private folder; returns the copy's path. */
export function snapshotForReading(file: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decomposer-read-only-'));
  const copy = path.join(dir, path.basename(file));
  fs.copyFileSync(file, copy);
  if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
  return copy;
}

/** The first problem quick_check finds, or null; and how long the check took. */
export function quickCheck(db: Database.Database): { problem: string | null; ms: number } {
  const t0 = performance.now();
  let problem: string | null;
  try {
    const r = db.pragma('quick_check(1)', { simple: true }) as string;
    problem = r === 'ok' ? null : r;
  } catch (e) {
    problem = (e as Error).message;
  }
  return { problem, ms: performance.now() - t0 };
}

export function readOnlyError(file: string): UserError {
  return new UserError(
    `The data folder ${path.dirname(file)} is read-only, so ${file} cannot be written.`,
    `Make the folder and ${path.basename(file)} writable for this user, or use another data folder (--home or DECOMPOSER_HOME). Commands that only read (runs, export, the app's lists) work here as it is.`,
    'db-read-only',
  );
}

export function damagedError(file: string, problem: string): UserError {
  const base = path.basename(file);
  return new UserError(
    `The database ${file} is damaged (${problem}); nothing more is written to it.`,
    `Recover what it holds with the sqlite3 tool: sqlite3 ${file} ".recover" | sqlite3 ${file}.recovered, then move ${base} aside and rename ${base}.recovered to ${base}; or put back a copy (${base}.schema-N.bak is made before each upgrade).`,
    'db-damaged',
  );
}

/** SQLite's error code, when `e` is one of its errors. */
export function sqliteCode(e: unknown): string | null {
  const code = (e as { code?: unknown }).code;
  return e instanceof Error && e.name === 'SqliteError' && typeof code === 'string' ? code : null;
}

/** The UserError for an SQLite failure on `file`, or null when it is none a person can act on. */
export function sqliteUserError(e: unknown, file: string): UserError | null {
  const code = sqliteCode(e);
  if (!code) return null;
  if (code === 'SQLITE_FULL')
    return new UserError(
      `The disk holding ${file} is full (database or disk is full); the last change was not saved.`,
      `Free space on that disk, or move the data folder (${path.dirname(file)}) to a disk with room and point --home or DECOMPOSER_HOME at it.`,
      'db-full',
    );
  if (code.startsWith('SQLITE_READONLY')) return readOnlyError(file);
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
    return damagedError(file, (e as Error).message);
  if (code.startsWith('SQLITE_BUSY'))
    return new UserError(
      `The database ${file} stayed busy: another Decomposer process kept it locked.`,
      'Try again when the other process is done (see `decomposer runs` for what is running).',
      'db-busy',
    );
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN')
    return new UserError(
      `The database ${file} could not be read or written (${(e as Error).message}).`,
      'Check the disk and the folder it is on (a removed drive, a network folder that went away).',
      'db-io',
    );
  return null;
}
