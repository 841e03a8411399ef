// Step 1: settings, machines, runs, epochs, power summaries.
import type { Migration } from './migration.ts';

export const migration: Migration = {
  name: 'runs',
  sql: `
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
};
