// One step of the schema. Step i (1-based, its file NNN-name.ts) brings a database from
// PRAGMA user_version i-1 to i. Never edit a released step: add a new one.
import type Database from 'better-sqlite3';

export interface Migration {
  /** What the step adds, in a few words (its file is NNN-name.ts). */
  name: string;
  /** The schema change, as SQL statements; they run first. */
  sql: string;
  /**
   * Rows that SQL alone cannot convert, rewritten in code after `sql`, in the same
   * transaction (a step killed half way leaves the database at the version before).
   */
  data?: (db: Database.Database) => void;
}

/** Applies one step: its SQL, then its data step. */
export function applyMigration(db: Database.Database, m: Migration): void {
  db.exec(m.sql);
  m.data?.(db);
}
