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
import Database from 'better-sqlite3';
import { UserError } from '../../common/errors.ts';
import { siblingName } from '../fs/atomic.ts';
import { processAlive } from '../fs/lock.ts';

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
  if (code === 'SQLITE_FULL') return diskFullError(file, 'the last change was not saved');
  // The -shm file SQLite makes on first use could not be sized: no room for it.
  if (code === 'SQLITE_IOERR_SHMSIZE') return diskFullError(file, 'it cannot even be opened');
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

export function diskFullError(file: string, what: string): UserError {
  return new UserError(
    `The disk holding ${file} is full (database or disk is full): ${what}.`,
    `Free space on that disk, or move the data folder (${path.dirname(file)}) to a disk with room and point --home or DECOMPOSER_HOME at it. Commands that only read (runs, export, the app's lists) work meanwhile.`,
    'db-full',
  );
}

/**
 * Whether an open failed for want of room: SQLite's "full", a -shm file it could not size
 * (SQLite makes it on first read, and a full disk cannot hold it), or ENOSPC from a file write.
 */
export function isDiskFull(e: unknown): boolean {
  const code = sqliteCode(e) ?? (e as NodeJS.ErrnoException).code;
  return code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_SHMSIZE' || code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * The database's content, for reading on a full disk: through a shared connection where the
 * -shm file is there, else with the WAL index in this process's memory (exclusive locking
 * needs no -shm file). Returned as a file image without WAL mode, to open in memory.
 */
export function serializeForReading(file: string): Buffer {
  let bytes: Buffer | null = null;
  for (const exclusive of [false, true]) {
    let db: Database.Database | null = null;
    try {
      db = new Database(file, { fileMustExist: true, readonly: !exclusive, timeout: 5000 });
      if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
      bytes = db.serialize();
      break;
    } catch (e) {
      if (exclusive) throw e;
    } finally {
      db?.close();
    }
  }
  // Bytes 18-19 of the header: 2 is WAL, which a database in memory cannot use; 1 is legacy.
  bytes![18] = 1;
  bytes![19] = 1;
  return bytes!;
}

/** Free bytes for this user on the disk holding `dir` (Infinity where it cannot be told). */
export function freeBytes(dir: string): number {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Infinity;
  }
}

function enospc(file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`no room on the disk for ${file}`), { code: 'ENOSPC' });
}

/** A backup newer than the database and its WAL: made by an earlier open whose migration failed. */
function backupIsCurrent(backup: string, file: string, from: number): boolean {
  try {
    const at = fs.statSync(backup).mtimeMs;
    const wal = fs.statSync(`${file}-wal`, { throwIfNoEntry: false });
    if (fs.statSync(file).mtimeMs > at || (wal && wal.mtimeMs > at)) return false;
    // The schema version in its header (bytes 60-63, big-endian): a backup of this schema.
    const header = Buffer.alloc(100);
    const fd = fs.openSync(backup, 'r');
    try {
      fs.readSync(fd, header, 0, 100, 0);
    } finally {
      fs.closeSync(fd);
    }
    return header.readUInt32BE(60) === from;
  } catch {
    return false;
  }
}

/** Partial backups (`<backup>.<pid>.part`) of processes that are gone. */
function removeStaleParts(backup: string): void {
  const base = path.basename(backup);
  for (const name of fs.readdirSync(path.dirname(backup))) {
    const pid = name.startsWith(`${base}.`) && /^\.(\d+)\.part$/.exec(name.slice(base.length));
    if (pid && processAlive(Number(pid[1]), null) === false)
      fs.rmSync(path.join(path.dirname(backup), name), { force: true });
  }
}

/**
 * Copies a database (a consistent snapshot, WAL included) to `${file}.schema-N.bak`,
 * atomically. A backup already newer than the database is kept, not made again. Where the
 * disk lacks the room for it, nothing is written (ENOSPC), and a copy that fails half way is
 * removed: a full disk never collects partial copies.
 */
export function backupBeforeMigration(db: Database.Database, file: string, from: number): string {
  const out = siblingName(file, `.schema-${from}.bak`);
  if (backupIsCurrent(out, file, from)) return out;
  removeStaleParts(out);
  const pages = db.pragma('page_count', { simple: true }) as number;
  const need = pages * (db.pragma('page_size', { simple: true }) as number);
  if (freeBytes(path.dirname(file)) < need + (1 << 20)) throw enospc(out);
  const part = siblingName(out, `.${process.pid}.part`);
  try {
    db.prepare('VACUUM INTO ?').run(part);
    fs.renameSync(part, out);
  } catch (e) {
    fs.rmSync(part, { force: true });
    throw e;
  }
  return out;
}
