// The schema, as numbered steps, one file each, applied in order in one exclusive transaction
// at start-up; the version is PRAGMA user_version.
//
// Conventions: times are ISO-8601 UTC text; *_json columns hold JSON text; energy columns
// hold the EnergyFigure object of src/core/common/energy.ts.
import type Database from 'better-sqlite3';
import { UserError } from '../../../common/errors.ts';
import { migration as runs } from './001-runs.ts';
import { migration as energyAtBest } from './002-energy-at-best.ts';
import { migration as grids } from './003-grids.ts';
import { migration as experiments } from './004-experiments.ts';
import { migration as powerEnergy } from './005-power-energy.ts';
import { applyMigration, type Migration } from './migration.ts';

export { applyMigration, type Migration };

/** Every step, in order: step i is MIGRATIONS[i - 1]. */
export const MIGRATIONS: readonly Migration[] = [runs, energyAtBest, grids, experiments, powerEnergy];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Applies the steps the database lacks. The version is read again inside the one exclusive
 * transaction that applies them and bumps it, so processes starting together on a fresh
 * folder migrate once (the others wait, then find it done); a step that fails (its SQL or
 * its data step) leaves the database as it was. `backup` runs before an existing database
 * (version above 0) is changed. `steps`: the schema's steps (tests pass their own).
 */
export function migrate(
  db: Database.Database,
  upTo = SCHEMA_VERSION,
  o: { backup?: (from: number) => void; steps?: readonly Migration[] } = {},
): number {
  const steps = o.steps ?? MIGRATIONS;
  const version = () => {
    const v = Number(db.pragma('user_version', { simple: true }));
    if (v > steps.length)
      throw new UserError(
        `The database was written by a newer Decomposer (schema ${v}, this one knows ${steps.length}).`,
        'Update Decomposer, or use another database with --db.',
        'db-newer',
      );
    return v;
  };
  const from = version();
  if (from >= upTo) return from;
  if (from > 0) o.backup?.(from);
  return db
    .transaction(() => {
      const now = version();
      if (now >= upTo) return now; // another process migrated it meanwhile
      for (let v = now; v < upTo; v++) applyMigration(db, steps[v]!);
      db.pragma(`user_version = ${upTo}`);
      return upTo;
    })
    .exclusive();
}
