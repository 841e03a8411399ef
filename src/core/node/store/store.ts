// The store: one SQLite database (better-sqlite3) in the user's data folder, WAL mode,
// foreign keys on, schema from numbered migrations (./migrations/) applied in one
// transaction at start-up, version in PRAGMA user_version. Every multi-row change is one
// transaction, so a process killed at any moment (kill -9) leaves the database consistent.
//
// The Store opens the database (read-only, damaged and full-disk cases: ./health.ts),
// migrates it, and hands out one repository per part of it: store.runs, store.epochs,
// store.power, store.experiments, store.grids, store.machines, store.settings. Runs whose
// process died are marked interrupted as it opens (./interrupted.ts). Power traces live in
// files next to the database, written atomically.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { isEstimatedSource } from '../../common/api.ts';
import { describeError, isUserError, UserError } from '../../common/errors.ts';
import { dataHome } from '../paths.ts';
import { EpochsRepository } from './epochs.ts';
import { ExperimentsRepository } from './experiments.ts';
import { GridsRepository } from './grids.ts';
import {
  backupBeforeMigration,
  damagedError,
  dataFolderWritable,
  diskFullError,
  isDiskFull,
  quickCheck,
  readOnlyError,
  serializeForReading,
  snapshotForReading,
  sqliteUserError,
} from './health.ts';
import { sweepInterrupted } from './interrupted.ts';
import { MachinesRepository } from './machines.ts';
import { migrate, SCHEMA_VERSION } from './migrations/index.ts';
import { PowerRepository } from './power.ts';
import type { StoreAccess } from './rows.ts';
import { RunsRepository } from './runs.ts';
import { SettingsRepository } from './settings.ts';

export const defaultDbFile = (home = dataHome()) => path.join(home, 'decomposer.db');

export interface StoreOptions {
  /**
   * Where a warning goes (a row read with a field missing, or left out): once per store for
   * each distinct line. Default: stderr, as "warning: …".
   */
  onWarning?: (line: string) => void;
}

const toStderr = (line: string) => void process.stderr.write(`warning: ${line}\n`);

/**
 * The connection's settings, the integrity check of an existing file, and the migrations it
 * lacks (`backup` first, when it changes an existing database). Returns what the check found.
 */
function prepareDb(
  db: Database.Database,
  exists: boolean,
  backup?: (from: number) => void,
): { problem: string | null; ms: number } {
  db.pragma('foreign_keys = ON');
  db.pragma('synchronous = NORMAL');
  // The one rule for "this figure is an estimate", usable in SQL totals.
  db.function('is_estimated_source', { deterministic: true }, (source: unknown) =>
    isEstimatedSource(typeof source === 'string' ? source : null) ? 1 : 0,
  );
  // Damage found before anything is written: migrations included.
  const check = exists ? quickCheck(db) : { problem: null, ms: 0 };
  if (!check.problem) migrate(db, SCHEMA_VERSION, { backup });
  return check;
}

export class Store implements StoreAccess {
  readonly file: string;
  readonly db: Database.Database;
  /** Runs found 'running' with their owner gone, marked interrupted at open. */
  readonly interruptedAtOpen: number[];

  readonly machines: MachinesRepository;
  readonly settings: SettingsRepository;
  readonly power: PowerRepository;
  readonly epochs: EpochsRepository;
  readonly grids: GridsRepository;
  readonly experiments: ExperimentsRepository;
  readonly runs: RunsRepository;

  /** The store reads a copy and refuses writes: a read-only data folder, or a full disk. */
  readonly readOnly: boolean;
  /** The disk holding the database is full: it is read from a copy in memory. */
  readonly diskFull: boolean;
  /** What quick_check found wrong at open (or a later read or write), null when sound. */
  damage: string | null;
  /** How long the open's integrity check took, ms. */
  readonly checkMs: number;
  private readonly snapshot: string | null;
  private readonly onWarning: (line: string) => void;
  private readonly warned = new Set<string>();

  private constructor(
    file: string,
    db: Database.Database,
    o: {
      readOnly: boolean;
      diskFull?: boolean;
      damage: string | null;
      checkMs: number;
      snapshot: string | null;
      onWarning?: (line: string) => void;
    },
  ) {
    this.file = file;
    this.db = db;
    this.readOnly = o.readOnly || Boolean(o.diskFull);
    this.diskFull = Boolean(o.diskFull);
    this.damage = o.damage;
    this.checkMs = o.checkMs;
    this.snapshot = o.snapshot;
    this.onWarning = o.onWarning ?? toStderr;
    this.machines = new MachinesRepository(this);
    this.settings = new SettingsRepository(this);
    this.power = new PowerRepository(this);
    this.epochs = new EpochsRepository(this, this.power);
    this.grids = new GridsRepository(this);
    this.experiments = new ExperimentsRepository(this, this.grids);
    this.runs = new RunsRepository(this, {
      machines: this.machines,
      experiments: this.experiments,
      epochs: this.epochs,
      power: this.power,
    });
    this.interruptedAtOpen = this.readOnly || this.damage ? [] : this.sweepOnOpen();
  }

  /**
   * Opens the database, creating and migrating it as needed. A read-only data folder opens
   * for reading (a snapshot copy); a damaged file opens for reading, and refuses writes; on a
   * full disk (no room for the -shm file, the backup or the migration), an existing database
   * opens for reading from a copy in memory, migrated there, and refuses writes.
   */
  static open(file = defaultDbFile(), opts: StoreOptions = {}): Store {
    const f = path.resolve(file);
    const exists = fs.existsSync(f);
    try {
      fs.mkdirSync(path.dirname(f), { recursive: true });
    } catch (e) {
      throw new UserError(
        `Cannot create the data folder ${path.dirname(f)} (${describeError(e)}).`,
        'Create it, or use another data folder (--home or DECOMPOSER_HOME).',
        'db-open',
      );
    }
    const readOnly = !dataFolderWritable(f);
    if (readOnly && !exists) throw readOnlyError(f);
    let snapshot: string | null = null;
    let db: Database.Database;
    try {
      if (readOnly) snapshot = snapshotForReading(f);
      db = new Database(snapshot ?? f, { timeout: 5000 });
    } catch (e) {
      throw (
        sqliteUserError(e, f) ??
        new UserError(
          `Cannot open the database ${f} (${describeError(e)}).`,
          'Check the folder exists and is writable, or choose another file with --db.',
          'db-open',
        )
      );
    }
    let check: { problem: string | null; ms: number };
    try {
      db.pragma('journal_mode = WAL');
      check = prepareDb(db, exists, snapshot ? undefined : (from) => backupBeforeMigration(db, f, from));
      // Writes that bypass write() are refused by SQLite itself.
      if (readOnly || check.problem) db.pragma('query_only = ON');
    } catch (e) {
      db.close();
      if (snapshot) fs.rmSync(path.dirname(snapshot), { recursive: true, force: true });
      if (exists && !snapshot && isDiskFull(e)) return Store.readInMemory(f, opts);
      if (isUserError(e)) throw e;
      const mapped = sqliteUserError(e, f);
      if (mapped && mapped.code !== 'db-damaged') throw mapped;
      throw new UserError(
        `${f} is not a usable Decomposer database (${describeError(e)}).`,
        'Move it aside, or choose another file with --db.',
        'db-bad',
      );
    }
    return new Store(f, db, { readOnly, damage: check.problem, checkMs: check.ms, snapshot, ...opts });
  }

  /** The database read into memory (migrated there if it needs it), for a full disk. */
  private static readInMemory(f: string, opts: StoreOptions): Store {
    let db: Database.Database;
    let check: { problem: string | null; ms: number };
    try {
      db = new Database(serializeForReading(f));
      check = prepareDb(db, true);
      db.pragma('query_only = ON');
    } catch (e) {
      if (isUserError(e)) throw e;
      throw sqliteUserError(e, f) ?? diskFullError(f, `it could not be read either (${describeError(e)})`);
    }
    return new Store(f, db, {
      readOnly: true,
      diskFull: true,
      damage: check.problem,
      checkMs: check.ms,
      snapshot: null,
      ...opts,
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
    if (this.snapshot) fs.rmSync(path.dirname(this.snapshot), { recursive: true, force: true });
  }

  /**
   * Runs `fn` as one IMMEDIATE transaction, the only way the store writes: the write lock is
   * taken at BEGIN, where the busy timeout waits for it. (A deferred transaction that reads
   * and then writes cannot wait: its upgrade fails at once with SQLITE_BUSY.) Nested calls
   * become savepoints of the outer one. Nothing is written to a read-only or damaged
   * database; SQLite's refusals become errors that name the file and what to do.
   */
  write<T>(fn: () => T): T {
    if (this.diskFull) throw diskFullError(this.file, 'nothing can be recorded until it has room');
    if (this.readOnly) throw readOnlyError(this.file);
    if (this.damage) throw damagedError(this.file, this.damage);
    try {
      return this.db.transaction(fn).immediate();
    } catch (e) {
      throw this.failure(e);
    }
  }

  /** A read, with SQLite's refusals explained (a damaged page turns up here too). */
  read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw this.failure(e);
    }
  }

  private failure(e: unknown): unknown {
    const u = sqliteUserError(e, this.file);
    if (u?.code === 'db-damaged') this.damage ??= describeError(e);
    return u ?? e;
  }

  /** A row read with a field missing, or left out: said once per store. */
  warn(line: string): void {
    if (this.warned.has(line)) return;
    this.warned.add(line);
    this.onWarning(line);
  }

  /** The sweep at open: on a disk too full to record it, the next open marks them. */
  private sweepOnOpen(): number[] {
    try {
      return sweepInterrupted(this, this);
    } catch (e) {
      if (isUserError(e) && e.code === 'db-full') return [];
      throw e;
    }
  }
}
