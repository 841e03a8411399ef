// Step 3: experiment grids (reuse / replace): one row per finished piece, so an interrupted
// grid resumes where it stopped.
import type { Migration } from './migration.ts';

export const migration: Migration = {
  name: 'grids',
  sql: `
  CREATE TABLE grids (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    spec_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE grid_rows (
    grid_id TEXT NOT NULL REFERENCES grids(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    row_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (grid_id, key)
  );
  `,
};
