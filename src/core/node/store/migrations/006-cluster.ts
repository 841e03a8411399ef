// Step 6: grids across machines. Runs and experiments get a stable unique id (`uid`), so a
// shard's rows merged into another store are found again there (a second merge adds nothing);
// a run keeps the scheduler facts it ran under (job and array ids, CPUs and GPUs allocated,
// exclusive node); and `grid_tasks` records which task of a grid's plan a store holds, and
// how it ended, so a merge can list the tasks still missing.
import type { Migration } from './migration.ts';

export const migration: Migration = {
  name: 'cluster',
  sql: `
  ALTER TABLE runs ADD COLUMN uid TEXT;
  ALTER TABLE runs ADD COLUMN scheduler_json TEXT;
  ALTER TABLE experiments ADD COLUMN uid TEXT;
  UPDATE runs SET uid = lower(hex(randomblob(16)));
  UPDATE experiments SET uid = lower(hex(randomblob(16)));
  CREATE UNIQUE INDEX runs_uid ON runs(uid);
  CREATE UNIQUE INDEX experiments_uid ON experiments(uid);
  CREATE TABLE grid_tasks (
    grid_id TEXT NOT NULL,
    task_index INTEGER NOT NULL,
    tasks INTEGER NOT NULL,
    phase INTEGER NOT NULL,
    plan TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    error TEXT,
    host TEXT NOT NULL,
    scheduler_json TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    PRIMARY KEY (grid_id, task_index)
  );
  `,
};
