// Step 2: fixed-epochs / until-best energy of training runs; models, modules, evaluations
// (simple for now; later issues fill them).
import type { Migration } from './migration.ts';

export const migration: Migration = {
  name: 'energy-at-best',
  sql: `
  ALTER TABLE runs ADD COLUMN best_epoch INTEGER;
  ALTER TABLE runs ADD COLUMN energy_fixed_json TEXT;
  ALTER TABLE runs ADD COLUMN energy_until_best_json TEXT;
  CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    path TEXT NOT NULL,
    architecture TEXT NOT NULL DEFAULT 'resnet',
    depth INTEGER,
    dataset TEXT,
    classes INTEGER,
    top1 REAL,
    top5 REAL,
    meta_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
  );
  CREATE TABLE modules (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    class_index INTEGER NOT NULL,
    approach TEXT NOT NULL,
    path TEXT,
    params_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
  );
  CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
    subject TEXT NOT NULL,
    top1 REAL,
    top5 REAL,
    jaccard REAL,
    params_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
  );
  `,
};
