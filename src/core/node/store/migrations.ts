// The schema, as numbered migrations. Migration i (1-based) brings a database from
// PRAGMA user_version i-1 to i; they are applied in one transaction at start-up. Never edit
// a released step: add a new one.
//
// Conventions: times are ISO-8601 UTC text; *_json columns hold JSON text; energy columns
// hold the EnergyRecord object of src/core/node/energy/formula.ts.
export const MIGRATIONS: string[] = [
  // 1: settings, machines, runs, epochs, power summaries.
  `
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value_json TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE machines (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    os TEXT NOT NULL,
    arch TEXT NOT NULL,
    cpu_model TEXT NOT NULL,
    cpu_cores INTEGER NOT NULL,
    cpu_threads INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL,
    gpus_json TEXT NOT NULL,
    virtual INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('train', 'decompose', 'evaluate', 'reuse', 'replace')),
    label TEXT,
    params_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'cancelled', 'failed', 'interrupted')),
    error TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    seconds REAL,
    heartbeat_at TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_start TEXT,
    host TEXT NOT NULL,
    machine_id INTEGER REFERENCES machines(id),
    backend TEXT,
    backend_detail TEXT,
    result_json TEXT,
    energy_json TEXT
  );
  CREATE INDEX runs_status ON runs(status);
  CREATE TABLE epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    loss REAL,
    accuracy REAL,
    val_accuracy REAL,
    seconds REAL,
    best INTEGER NOT NULL DEFAULT 0,
    checkpoint TEXT,
    ended_at TEXT NOT NULL,
    energy_json TEXT,
    PRIMARY KEY (run_id, epoch)
  );
  CREATE TABLE power (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    sources_json TEXT NOT NULL DEFAULT '[]',
    interval_ms INTEGER NOT NULL,
    samples INTEGER NOT NULL DEFAULT 0,
    missed INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    cpu_j REAL NOT NULL DEFAULT 0,
    dram_j REAL NOT NULL DEFAULT 0,
    gpu_j REAL NOT NULL DEFAULT 0,
    gpus INTEGER NOT NULL DEFAULT 0,
    idle_seconds REAL NOT NULL DEFAULT 0,
    idle_cpu_w REAL NOT NULL DEFAULT 0,
    idle_dram_w REAL NOT NULL DEFAULT 0,
    idle_gpu_w REAL NOT NULL DEFAULT 0,
    trace_file TEXT,
    trace_format TEXT,
    updated_at TEXT NOT NULL
  );
  `,
  // 2: fixed-epochs / until-best energy of training runs; models, modules, evaluations
  // (simple for now; later issues fill them).
  `
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
  // 3: experiment grids (reuse / replace): one row per finished piece, so an interrupted
  // grid resumes where it stopped.
  `
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
  // 4: experiments. Every run belongs to an experiment (a demo, a reuse/replace grid, one
  // custom scenario, a wizard session, or a training, decomposition or evaluation of its own)
  // and plays a role in it. Existing runs get the role their parameters say; a grid's runs
  // join the grid's experiment; every other existing run becomes an experiment of its own.
  // Migration 2's models, modules and evaluations tables were never read or written: dropped.
  // The legacy_* columns are indexed while they join runs and grids to their experiments (a
  // lookup per row: without the index, quadratic in the runs), then dropped with the columns;
  // the schema it leaves is the one it always left.
  `
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;
