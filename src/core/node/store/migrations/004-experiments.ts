// Step 4: experiments. Every run belongs to an experiment (a demo, a reuse/replace grid, one
// custom scenario, a wizard session, or a training, decomposition or evaluation of its own)
// and plays a role in it. Existing runs get the role their parameters say; a grid's runs
// join the grid's experiment; every other existing run becomes an experiment of its own.
// Migration 2's models, modules and evaluations tables were never read or written: dropped.
// The legacy_* columns are indexed while they join runs and grids to their experiments (a
// lookup per row: without the index, quadratic in the runs), then dropped with the columns;
// the schema it leaves is the one it always left.
import type { Migration } from './migration.ts';

export const migration: Migration = {
  name: 'experiments',
  sql: `
  CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('demo', 'grid', 'scenario', 'wizard', 'training', 'decomposition', 'evaluation')),
    label TEXT NOT NULL,
    params_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    legacy_grid_id TEXT,
    legacy_run_id INTEGER
  );
  ALTER TABLE runs ADD COLUMN experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL;
  ALTER TABLE runs ADD COLUMN role TEXT CHECK (role IN ('model', 'baseline', 'decomposition', 'evaluation', 'reuse', 'replace', 'option'));
  ALTER TABLE runs ADD COLUMN scenario TEXT;
  CREATE INDEX runs_experiment ON runs(experiment_id);
  -- The experiment a grid was first run in: running it again (resuming) continues that one.
  ALTER TABLE grids ADD COLUMN experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL;

  UPDATE runs SET role = CASE
      WHEN json_valid(params_json) AND json_extract(params_json, '$.wizard') AND json_extract(params_json, '$.option') IS NOT NULL THEN 'option'
      WHEN kind = 'train' AND json_valid(params_json) AND json_extract(params_json, '$.baseline') IS NOT NULL THEN 'baseline'
      WHEN kind = 'train' THEN 'model'
      WHEN kind = 'decompose' THEN 'decomposition'
      WHEN kind = 'evaluate' THEN 'evaluation'
      ELSE kind END;
  UPDATE runs SET scenario = CASE
      WHEN role = 'option' THEN 'option ' || json_extract(params_json, '$.option')
      WHEN json_valid(params_json) AND json_extract(params_json, '$.wizard_demo') IS NOT NULL
        THEN 'faulty demo: ' || json_extract(params_json, '$.wizard_demo')
      WHEN role = 'baseline' THEN json_extract(params_json, '$.baseline')
      ELSE NULL END;

  INSERT INTO experiments (kind, label, params_json, created_at, legacy_grid_id)
    SELECT 'grid', g.kind || ' grid ' || g.id, g.spec_json, g.created_at, g.id FROM grids g;
  CREATE INDEX experiments_legacy_grid ON experiments(legacy_grid_id);
  UPDATE grids SET experiment_id = (SELECT e.id FROM experiments e WHERE e.legacy_grid_id = grids.id);
  UPDATE runs SET experiment_id = (SELECT g.experiment_id FROM grids g WHERE g.id = json_extract(runs.params_json, '$.grid'))
    WHERE json_valid(params_json) AND json_extract(params_json, '$.grid') IS NOT NULL;

  INSERT INTO experiments (kind, label, params_json, created_at, legacy_run_id)
    SELECT CASE
        WHEN json_valid(params_json) AND (json_extract(params_json, '$.wizard') OR json_extract(params_json, '$.wizard_demo') IS NOT NULL) THEN 'wizard'
        WHEN json_valid(params_json) AND json_extract(params_json, '$.demo') THEN 'demo'
        WHEN kind = 'train' THEN 'training'
        WHEN kind = 'decompose' THEN 'decomposition'
        WHEN kind = 'evaluate' THEN 'evaluation'
        ELSE 'scenario' END,
      COALESCE(label, kind || ' run ' || id), '{}', started_at, id
    FROM runs WHERE experiment_id IS NULL;
  CREATE INDEX experiments_legacy_run ON experiments(legacy_run_id);
  UPDATE runs SET experiment_id = (SELECT e.id FROM experiments e WHERE e.legacy_run_id = runs.id)
    WHERE experiment_id IS NULL;
  DROP INDEX experiments_legacy_run;
  DROP INDEX experiments_legacy_grid;
  ALTER TABLE experiments DROP COLUMN legacy_run_id;
  ALTER TABLE experiments DROP COLUMN legacy_grid_id;

  DROP TABLE evaluations;
  DROP TABLE modules;
  DROP TABLE models;
  `,
};
