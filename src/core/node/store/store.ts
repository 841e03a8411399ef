// The store: one SQLite database (better-sqlite3) in the user's data folder, WAL mode,
// foreign keys on, schema from numbered migrations (./migrations.ts) applied in one
// transaction at start-up, version in PRAGMA user_version. Every multi-row change is one
// transaction, so a process killed at any moment (kill -9) leaves the database consistent.
//
// A run is inserted as 'running' with its owner (host, pid, the process's start time) and
// a heartbeat. At the next start-up, a run still 'running' whose owner is gone (no such pid,
// or the pid now belongs to another process, or on another host a heartbeat older than
// STALE_MS) is marked 'interrupted'; what it finished (epochs, power summary, trace file)
// stays. Power traces live in files next to the database, written atomically.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  EXPERIMENT_KINDS,
  isEstimatedSource,
  RUN_ROLES,
  type ExperimentKind,
  type RunRole,
} from '../../common/api.ts';
import { UserError } from '../../common/errors.ts';
import { energyRecord, type EnergyRecord } from '../energy/formula.ts';
import type { MachineInfo } from '../energy/machine.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { processAlive, processStartTime } from '../fs/lock.ts';
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
import { dataHome } from '../paths.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';
import { readSettings } from './settings.ts';

export const RUN_KINDS = ['train', 'decompose', 'evaluate', 'reuse', 'replace'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

// Roles and experiment kinds (migration 4) are the API's vocabulary.
export { EXPERIMENT_KINDS, RUN_ROLES, type ExperimentKind, type RunRole };

/** A run's role when nothing more is said: what its kind does. */
export const DEFAULT_ROLE: Record<RunKind, RunRole> = {
  train: 'model',
  decompose: 'decomposition',
  evaluate: 'evaluation',
  reuse: 'reuse',
  replace: 'replace',
};

/** A run started outside any experiment becomes an experiment of its own, of this kind. */
const OWN_EXPERIMENT: Record<RunRole, ExperimentKind> = {
  model: 'training',
  baseline: 'training',
  decomposition: 'decomposition',
  evaluation: 'evaluation',
  reuse: 'scenario',
  replace: 'scenario',
  option: 'wizard',
};

export interface ExperimentRow {
  id: number;
  kind: ExperimentKind;
  label: string;
  params: unknown;
  created_at: string;
  /** From its runs: running while one runs, else the worst ending (interrupted, failed, cancelled). */
  status: RunStatus;
  ended_at: string | null;
  runs: number;
  /** Energy of its runs, summed in SQL; runs without an energy record add nothing. */
  kwh: number;
  co2e_kg: number;
  co2e_lbs: number;
  estimated_runs: number;
}

export interface ExperimentDetail extends ExperimentRow {
  run_list: RunRow[];
  /** The reuse/replace scenario rows its runs finished (grids keep them), in that order. */
  scenarios: { key: string; kind: string; row: unknown; run_id: number | null }[];
}
export type RunStatus = 'running' | 'finished' | 'cancelled' | 'failed' | 'interrupted';

/** A heartbeat older than this, from a process we cannot check, means the owner is gone. */
export const STALE_MS = 60_000;
export const HEARTBEAT_MS = 5_000;

export const defaultDbFile = (home = dataHome()) => path.join(home, 'decomposer.db');

export interface PowerSummary {
  source: string;
  sources: string[];
  intervalMs: number;
  samples: number;
  missed: number;
  seconds: number;
  cpuJ: number;
  dramJ: number;
  gpuJ: number;
  gpus: number;
  idleSeconds: number;
  idleCpuW: number;
  idleDramW: number;
  idleGpuW: number;
}

export interface EpochRow {
  epoch: number;
  loss: number | null;
  accuracy: number | null;
  val_accuracy: number | null;
  seconds: number | null;
  best: boolean;
  checkpoint: string | null;
  ended_at: string;
  /** Cumulative energy of the run at this epoch's end. */
  energy: EnergyRecord | null;
}

export interface RunRow {
  id: number;
  kind: RunKind;
  label: string | null;
  status: RunStatus;
  error: string | null;
  params: unknown;
  started_at: string;
  ended_at: string | null;
  seconds: number | null;
  heartbeat_at: string;
  pid: number;
  host: string;
  backend: string | null;
  backend_detail: string | null;
  experiment_id: number | null;
  experiment_kind: ExperimentKind | null;
  role: RunRole | null;
  /** Which scenario of its experiment the run belongs to (a baseline's classes, a wizard option). */
  scenario: string | null;
  machine: (MachineInfo & { id: number }) | null;
  result: unknown;
  energy: EnergyRecord | null;
  best_epoch: number | null;
  /** Training: energy through the last epoch (the paper's "fixed epochs"). */
  energy_fixed_epochs: EnergyRecord | null;
  /** Training: energy through the epoch of the best validation checkpoint. */
  energy_until_best: EnergyRecord | null;
  epochs_done: number;
}

export interface RunDetail extends RunRow {
  epochs: EpochRow[];
  power: (PowerSummary & { traceFile: string | null; traceFormat: string | null; updatedAt: string }) | null;
}

const iso = (ms = Date.now()) => new Date(ms).toISOString();
const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(s: unknown): T | null => (typeof s === 'string' ? (JSON.parse(s) as T) : null);

export { processStartTime };

function ownerAlive(r: {
  pid: number;
  pid_start: string | null;
  host: string;
  heartbeat_at: string;
}): boolean {
  const fresh = Date.now() - Date.parse(r.heartbeat_at) < STALE_MS;
  if (r.host !== os.hostname()) return fresh;
  const alive = processAlive(r.pid, r.pid_start);
  return alive === 'unknown' ? fresh : alive;
}

/**
 * Applies the migrations the database lacks. The version is read again inside the one
 * exclusive transaction that applies them and bumps it, so processes starting together on a
 * fresh folder migrate once (the others wait, then find it done). `backup` runs before an
 * existing database (version above 0) is changed.
 */
export function migrate(
  db: Database.Database,
  upTo = SCHEMA_VERSION,
  o: { backup?: (from: number) => void } = {},
): number {
  const version = () => {
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v > SCHEMA_VERSION)
      throw new UserError(
        `The database was written by a newer Decomposer (schema ${v}, this one knows ${SCHEMA_VERSION}).`,
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
      for (let v = now; v < upTo; v++) db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${upTo}`);
      return upTo;
    })
    .exclusive();
}

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

export class Store {
  readonly file: string;
  readonly db: Database.Database;
  /** Runs found 'running' with their owner gone, marked interrupted at open. */
  readonly interruptedAtOpen: number[];

  /** The store reads a copy and refuses writes: a read-only data folder, or a full disk. */
  readonly readOnly: boolean;
  /** The disk holding the database is full: it is read from a copy in memory. */
  readonly diskFull: boolean;
  /** What quick_check found wrong at open (or a later read or write), null when sound. */
  damage: string | null;
  /** How long the open's integrity check took, ms. */
  readonly checkMs: number;
  private readonly snapshot: string | null;

  private constructor(
    file: string,
    db: Database.Database,
    o: {
      readOnly: boolean;
      diskFull?: boolean;
      damage: string | null;
      checkMs: number;
      snapshot: string | null;
    },
  ) {
    this.file = file;
    this.db = db;
    this.readOnly = o.readOnly || Boolean(o.diskFull);
    this.diskFull = Boolean(o.diskFull);
    this.damage = o.damage;
    this.checkMs = o.checkMs;
    this.snapshot = o.snapshot;
    this.interruptedAtOpen = this.readOnly || this.damage ? [] : this.sweepOnOpen();
  }

  /**
   * Opens the database, creating and migrating it as needed. A read-only data folder opens
   * for reading (a snapshot copy); a damaged file opens for reading, and refuses writes; on a
   * full disk (no room for the -shm file, the backup or the migration), an existing database
   * opens for reading from a copy in memory, migrated there, and refuses writes.
   */
  static open(file = defaultDbFile()): Store {
    const f = path.resolve(file);
    const exists = fs.existsSync(f);
    try {
      fs.mkdirSync(path.dirname(f), { recursive: true });
    } catch (e) {
      throw new UserError(
        `Cannot create the data folder ${path.dirname(f)} (${(e as Error).message}).`,
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
          `Cannot open the database ${f} (${(e as Error).message}).`,
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
      if (exists && !snapshot && isDiskFull(e)) return Store.readInMemory(f);
      if ((e as Error).name === 'UserError') throw e;
      const mapped = sqliteUserError(e, f);
      if (mapped && mapped.code !== 'db-damaged') throw mapped;
      throw new UserError(
        `${f} is not a usable Decomposer database (${(e as Error).message}).`,
        'Move it aside, or choose another file with --db.',
        'db-bad',
      );
    }
    return new Store(f, db, { readOnly, damage: check.problem, checkMs: check.ms, snapshot });
  }

  /** The database read into memory (migrated there if it needs it), for a full disk. */
  private static readInMemory(f: string): Store {
    let db: Database.Database;
    let check: { problem: string | null; ms: number };
    try {
      db = new Database(serializeForReading(f));
      check = prepareDb(db, true);
      db.pragma('query_only = ON');
    } catch (e) {
      if ((e as Error).name === 'UserError') throw e;
      throw (
        sqliteUserError(e, f) ?? diskFullError(f, `it could not be read either (${(e as Error).message})`)
      );
    }
    return new Store(f, db, {
      readOnly: true,
      diskFull: true,
      damage: check.problem,
      checkMs: check.ms,
      snapshot: null,
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
    if (u?.code === 'db-damaged') this.damage ??= (e as Error).message;
    return u ?? e;
  }

  /** Folder of the power trace files. */
  get traceDir(): string {
    return path.join(path.dirname(this.file), 'traces');
  }

  /** The sweep at open: on a disk too full to record it, the next open marks them. */
  private sweepOnOpen(): number[] {
    try {
      return this.sweepInterrupted();
    } catch (e) {
      if ((e as UserError).code === 'db-full') return [];
      throw e;
    }
  }

  /** Marks runs whose owning process is gone as interrupted; returns their ids. */
  sweepInterrupted(): number[] {
    const running = this.db
      .prepare(`SELECT id, pid, pid_start, host, heartbeat_at FROM runs WHERE status = 'running'`)
      .all() as { id: number; pid: number; pid_start: string | null; host: string; heartbeat_at: string }[];
    const gone = running.filter((r) => !ownerAlive(r)).map((r) => r.id);
    if (gone.length) {
      const upd = this.db.prepare(
        `UPDATE runs SET status = 'interrupted', ended_at = heartbeat_at,
           seconds = (julianday(heartbeat_at) - julianday(started_at)) * 86400.0,
           energy_json = COALESCE(energy_json, ?)
         WHERE id = ? AND status = 'running'`,
      );
      this.write(() => gone.forEach((id) => upd.run(json(this.energySoFar(id) ?? undefined), id)));
    }
    return gone;
  }

  /**
   * The energy a run had recorded when its process died: from its last power summary (every
   * heartbeat and epoch), with the PUE and intensity its epochs used (else the settings), or
   * its last epoch's. It counts in the totals like any other run's.
   */
  private energySoFar(id: number): EnergyRecord | null {
    const lastEpoch = this.db
      .prepare(
        'SELECT energy_json FROM epochs WHERE run_id = ? AND energy_json IS NOT NULL ORDER BY epoch DESC LIMIT 1',
      )
      .get(id) as { energy_json: string } | undefined;
    const epochEnergy = lastEpoch ? parse<EnergyRecord>(lastEpoch.energy_json) : null;
    const p = this.db.prepare('SELECT * FROM power WHERE run_id = ?').get(id) as
      Record<string, number> | undefined;
    if (!p || !(p.seconds! > 0)) return epochEnergy;
    const s = p.seconds!;
    const settings = epochEnergy ? null : readSettings(this);
    return energyRecord(
      {
        seconds: s,
        cpuW: p.cpu_j! / s,
        dramW: p.dram_j! / s,
        gpuW: p.gpus! > 0 ? p.gpu_j! / s / p.gpus! : 0,
        gpus: p.gpus!,
      },
      { cpuW: p.idle_cpu_w!, dramW: p.idle_dram_w!, gpuW: p.idle_gpu_w! },
      {
        source: String((p as Record<string, unknown>).source),
        pue: epochEnergy?.pue ?? settings!.pue,
        intensity: epochEnergy?.intensity_lbs_per_kwh ?? settings!.intensity,
      },
    );
  }

  machineId(m: MachineInfo): number {
    return this.write(() => this.findOrAddMachine(m));
  }

  private findOrAddMachine(m: MachineInfo): number {
    const fp = JSON.stringify([m.hostname, m.os, m.arch, m.cpu_model, m.cpu_threads, m.memory_bytes, m.gpus]);
    const row = this.db.prepare('SELECT id FROM machines WHERE fingerprint = ?').get(fp) as
      { id: number } | undefined;
    if (row) return row.id;
    return Number(
      this.db
        .prepare(
          `INSERT INTO machines (fingerprint, hostname, os, arch, cpu_model, cpu_cores, cpu_threads, memory_bytes, gpus_json, virtual, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          fp,
          m.hostname,
          m.os,
          m.arch,
          m.cpu_model,
          m.cpu_cores,
          m.cpu_threads,
          m.memory_bytes,
          JSON.stringify(m.gpus),
          m.virtual ? 1 : 0,
          iso(),
        ).lastInsertRowid,
    );
  }

  /**
   * Starts a run in its experiment, with its role there (default: what its kind does). A run
   * given no experiment is an experiment of its own (a `decomposer train`, say).
   */
  startRun(s: {
    kind: RunKind;
    params: unknown;
    label?: string;
    machine?: MachineInfo;
    backend?: string;
    backendDetail?: string;
    experimentId?: number;
    role?: RunRole;
    scenario?: string;
  }): number {
    if (!RUN_KINDS.includes(s.kind)) throw new Error(`unknown run kind ${s.kind}`);
    const role = s.role ?? DEFAULT_ROLE[s.kind];
    if (!RUN_ROLES.includes(role)) throw new Error(`unknown run role ${role}`);
    const now = iso();
    return this.write(() => {
      const machineId = s.machine ? this.machineId(s.machine) : null;
      const experimentId =
        s.experimentId ??
        this.startExperiment({
          kind: OWN_EXPERIMENT[role],
          label: s.label ?? `${s.kind} run`,
          params: s.params,
        });
      return Number(
        this.db
          .prepare(
            `INSERT INTO runs (kind, label, params_json, status, started_at, heartbeat_at, pid, pid_start, host, machine_id, backend, backend_detail, experiment_id, role, scenario)
             VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            s.kind,
            s.label ?? null,
            JSON.stringify(s.params ?? {}),
            now,
            now,
            process.pid,
            processStartTime(process.pid),
            os.hostname(),
            machineId,
            s.backend ?? null,
            s.backendDetail ?? null,
            experimentId,
            role,
            s.scenario ?? null,
          ).lastInsertRowid,
      );
    });
  }

  /** A new experiment: the runs started with its id belong to it. */
  startExperiment(e: { kind: ExperimentKind; label: string; params?: unknown }): number {
    if (!EXPERIMENT_KINDS.includes(e.kind)) throw new Error(`unknown experiment kind ${e.kind}`);
    return this.write(() =>
      Number(
        this.db
          .prepare('INSERT INTO experiments (kind, label, params_json, created_at) VALUES (?, ?, ?, ?)')
          .run(e.kind, e.label, JSON.stringify(e.params ?? {}), iso()).lastInsertRowid,
      ),
    );
  }

  // Totals per experiment in SQL; the estimate rule is common/api.ts's isEstimatedSource,
  // registered as a SQL function when the store opens.
  private static EXPERIMENT_SELECT = `SELECT e.*,
      COUNT(r.id) AS runs,
      COALESCE(SUM(json_extract(r.energy_json, '$.kwh')), 0) AS kwh,
      COALESCE(SUM(json_extract(r.energy_json, '$.co2e_kg')), 0) AS co2e_kg,
      COALESCE(SUM(json_extract(r.energy_json, '$.co2e_lbs')), 0) AS co2e_lbs,
      COALESCE(SUM(CASE WHEN r.energy_json IS NOT NULL AND is_estimated_source(json_extract(r.energy_json, '$.source')) THEN 1 ELSE 0 END), 0) AS estimated_runs,
      MAX(r.status = 'running') AS any_running,
      MAX(r.status = 'interrupted') AS any_interrupted,
      MAX(r.status = 'failed') AS any_failed,
      MAX(r.status = 'cancelled') AS any_cancelled,
      MAX(r.ended_at) AS ended_at
    FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id`;

  private toExperiment(r: Record<string, unknown>): ExperimentRow {
    const status: RunStatus = r.any_running
      ? 'running'
      : r.any_interrupted
        ? 'interrupted'
        : r.any_failed
          ? 'failed'
          : r.any_cancelled
            ? 'cancelled'
            : 'finished';
    return {
      id: r.id as number,
      kind: r.kind as ExperimentKind,
      label: r.label as string,
      params: parse(r.params_json) ?? {},
      created_at: r.created_at as string,
      status,
      ended_at: status === 'running' ? null : (r.ended_at as string | null),
      runs: r.runs as number,
      kwh: r.kwh as number,
      co2e_kg: r.co2e_kg as number,
      co2e_lbs: r.co2e_lbs as number,
      estimated_runs: r.estimated_runs as number,
    };
  }

  /** Experiments, newest first, with their runs' totals. */
  listExperiments(o: { kind?: ExperimentKind; limit?: number } = {}): ExperimentRow[] {
    return (
      this.db
        .prepare(
          `${Store.EXPERIMENT_SELECT} WHERE (@kind IS NULL OR e.kind = @kind) GROUP BY e.id ORDER BY e.id DESC LIMIT @limit`,
        )
        .all({ kind: o.kind ?? null, limit: o.limit ?? -1 }) as Record<string, unknown>[]
    ).map((r) => this.toExperiment(r));
  }

  getExperiment(id: number): ExperimentDetail | null {
    const r = this.db.prepare(`${Store.EXPERIMENT_SELECT} WHERE e.id = ? GROUP BY e.id`).get(id) as
      Record<string, unknown> | undefined;
    if (!r) return null;
    const e = this.toExperiment(r);
    const runs = (
      this.db.prepare(`${Store.RUN_SELECT} WHERE r.experiment_id = ? ORDER BY r.id`).all(id) as Record<
        string,
        unknown
      >[]
    ).map((x) => this.toRun(x));
    const scenarios = (
      this.db
        .prepare(
          `SELECT g.key, g.kind, g.row_json, g.run_id FROM grid_rows g JOIN runs r ON r.id = g.run_id
           WHERE r.experiment_id = ? AND g.key LIKE 'scenario:%' ORDER BY g.run_id`,
        )
        .all(id) as { key: string; kind: string; row_json: string; run_id: number | null }[]
    ).map((g) => ({
      key: g.key.slice('scenario:'.length),
      kind: g.kind,
      row: parse(g.row_json),
      run_id: g.run_id,
    }));
    return { ...e, run_list: runs, scenarios };
  }

  setBackend(id: number, backend: string, detail: string): void {
    this.write(() =>
      this.db
        .prepare('UPDATE runs SET backend = ?, backend_detail = ? WHERE id = ?')
        .run(backend, detail, id),
    );
  }

  /** The run is alive; optionally with its power so far (one transaction). */
  heartbeat(id: number, power?: PowerSummary): void {
    this.write(() => {
      this.db.prepare(`UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'`).run(iso(), id);
      if (power) this.putPower(id, power);
    });
  }

  putPower(id: number, p: PowerSummary, trace?: { file: string; format: string }): void {
    this.write(() =>
      this.db
        .prepare(
          `INSERT INTO power (run_id, source, sources_json, interval_ms, samples, missed, seconds, cpu_j, dram_j, gpu_j, gpus,
           idle_seconds, idle_cpu_w, idle_dram_w, idle_gpu_w, trace_file, trace_format, updated_at)
         VALUES (@id, @source, @sources, @intervalMs, @samples, @missed, @seconds, @cpuJ, @dramJ, @gpuJ, @gpus,
           @idleSeconds, @idleCpuW, @idleDramW, @idleGpuW, @traceFile, @traceFormat, @now)
         ON CONFLICT (run_id) DO UPDATE SET source = excluded.source, sources_json = excluded.sources_json,
           interval_ms = excluded.interval_ms, samples = excluded.samples, missed = excluded.missed,
           seconds = excluded.seconds, cpu_j = excluded.cpu_j, dram_j = excluded.dram_j, gpu_j = excluded.gpu_j,
           gpus = excluded.gpus, idle_seconds = excluded.idle_seconds, idle_cpu_w = excluded.idle_cpu_w,
           idle_dram_w = excluded.idle_dram_w, idle_gpu_w = excluded.idle_gpu_w,
           trace_file = COALESCE(excluded.trace_file, power.trace_file),
           trace_format = COALESCE(excluded.trace_format, power.trace_format), updated_at = excluded.updated_at`,
        )
        .run({
          ...p,
          id,
          sources: JSON.stringify(p.sources),
          traceFile: trace?.file ?? null,
          traceFormat: trace?.format ?? null,
          now: iso(),
        }),
    );
  }

  /** Writes the power trace (atomically) and points the power row at it. */
  async writeTrace(
    id: number,
    rows: ArrayLike<number>,
    format: string,
    power: PowerSummary,
  ): Promise<string> {
    const file = path.join(this.traceDir, `run-${id}.f32`);
    await writeFileAtomic(file, new Uint8Array(Float32Array.from(rows).buffer));
    this.write(() => {
      this.putPower(id, power, { file: path.relative(path.dirname(this.file), file), format });
      this.db.prepare(`UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'`).run(iso(), id);
    });
    return file;
  }

  /** Reads a run's trace file back as rows of its columns. */
  readTrace(id: number): { columns: string[]; rows: number[][] } | null {
    const p = this.db.prepare('SELECT trace_file, trace_format FROM power WHERE run_id = ?').get(id) as
      { trace_file: string | null; trace_format: string | null } | undefined;
    if (!p?.trace_file || !p.trace_format) return null;
    let buf: Buffer;
    try {
      buf = fs.readFileSync(path.resolve(path.dirname(this.file), p.trace_file));
    } catch {
      return null;
    }
    const columns = p.trace_format.replace(/^f32le:/, '').split(',');
    const f = new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.byteLength / 4));
    const rows: number[][] = [];
    for (let i = 0; i + columns.length <= f.length; i += columns.length)
      rows.push(Array.from(f.subarray(i, i + columns.length)));
    return { columns, rows };
  }

  addEpoch(
    id: number,
    e: {
      epoch: number;
      loss?: number;
      accuracy?: number;
      valAccuracy?: number;
      seconds?: number;
      best?: boolean;
      checkpoint?: string;
      energy?: EnergyRecord;
    },
    power?: PowerSummary,
  ): void {
    this.write(() => {
      this.db
        .prepare(
          `INSERT OR REPLACE INTO epochs (run_id, epoch, loss, accuracy, val_accuracy, seconds, best, checkpoint, ended_at, energy_json)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          e.epoch,
          e.loss ?? null,
          e.accuracy ?? null,
          e.valAccuracy ?? null,
          e.seconds ?? null,
          e.best ? 1 : 0,
          e.checkpoint ?? null,
          iso(),
          json(e.energy),
        );
      if (e.best) this.db.prepare('UPDATE runs SET best_epoch = ? WHERE id = ?').run(e.epoch, id);
      this.db.prepare(`UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'`).run(iso(), id);
      if (power) this.putPower(id, power);
    });
  }

  finishRun(
    id: number,
    f: {
      status: Exclude<RunStatus, 'running' | 'interrupted'>;
      error?: string;
      result?: unknown;
      energy?: EnergyRecord;
      energyFixedEpochs?: EnergyRecord | null;
      energyUntilBest?: EnergyRecord | null;
      bestEpoch?: number | null;
      seconds?: number;
    },
    power?: PowerSummary,
  ): void {
    this.write(() => {
      const now = iso();
      this.db
        .prepare(
          `UPDATE runs SET status = ?, error = ?, result_json = ?, energy_json = ?, energy_fixed_json = ?,
             energy_until_best_json = ?, best_epoch = COALESCE(?, best_epoch), ended_at = ?, heartbeat_at = ?,
             seconds = COALESCE(?, (julianday(?) - julianday(started_at)) * 86400.0)
           WHERE id = ?`,
        )
        .run(
          f.status,
          f.error ?? null,
          json(f.result),
          json(f.energy),
          json(f.energyFixedEpochs ?? undefined),
          json(f.energyUntilBest ?? undefined),
          f.bestEpoch ?? null,
          now,
          now,
          f.seconds ?? null,
          now,
          id,
        );
      if (power) this.putPower(id, power);
    });
  }

  /**
   * The training runs recorded before run `beforeId` in the run folder `runDir`
   * (params.run_dir), oldest first, each with its epochs (cumulative energy at each end).
   */
  trainingRunsIn(
    runDir: string,
    beforeId: number,
  ): { id: number; epochs: { epoch: number; energy: EnergyRecord | null }[] }[] {
    const rows = this.db
      .prepare(
        `SELECT r.id AS id, e.epoch AS epoch, e.energy_json AS energy_json
           FROM runs r LEFT JOIN epochs e ON e.run_id = r.id
          WHERE r.kind = 'train' AND r.id < ? AND json_valid(r.params_json)
            AND json_extract(r.params_json, '$.run_dir') = ?
          ORDER BY r.id, e.epoch`,
      )
      .all(beforeId, runDir) as { id: number; epoch: number | null; energy_json: string | null }[];
    const out: { id: number; epochs: { epoch: number; energy: EnergyRecord | null }[] }[] = [];
    for (const r of rows) {
      if (out.at(-1)?.id !== r.id) out.push({ id: r.id, epochs: [] });
      if (r.epoch !== null)
        out.at(-1)!.epochs.push({ epoch: r.epoch, energy: parse<EnergyRecord>(r.energy_json) });
    }
    return out;
  }

  private toRun(r: Record<string, unknown>): RunRow {
    return {
      id: r.id as number,
      kind: r.kind as RunKind,
      label: r.label as string | null,
      status: r.status as RunStatus,
      error: r.error as string | null,
      params: parse(r.params_json) ?? {},
      started_at: r.started_at as string,
      ended_at: r.ended_at as string | null,
      seconds: r.seconds as number | null,
      heartbeat_at: r.heartbeat_at as string,
      pid: r.pid as number,
      host: r.host as string,
      backend: r.backend as string | null,
      backend_detail: r.backend_detail as string | null,
      experiment_id: r.experiment_id as number | null,
      experiment_kind: (r.x_kind as ExperimentKind | null) ?? null,
      role: r.role as RunRole | null,
      scenario: r.scenario as string | null,
      machine:
        r.m_id === null
          ? null
          : {
              id: r.m_id as number,
              hostname: r.m_hostname as string,
              os: r.m_os as string,
              arch: r.m_arch as string,
              cpu_model: r.m_cpu_model as string,
              cpu_cores: r.m_cpu_cores as number,
              cpu_threads: r.m_cpu_threads as number,
              memory_bytes: r.m_memory_bytes as number,
              gpus: parse<string[]>(r.m_gpus_json) ?? [],
              virtual: Boolean(r.m_virtual),
            },
      result: parse(r.result_json),
      energy: parse<EnergyRecord>(r.energy_json),
      best_epoch: r.best_epoch as number | null,
      energy_fixed_epochs: parse<EnergyRecord>(r.energy_fixed_json),
      energy_until_best: parse<EnergyRecord>(r.energy_until_best_json),
      epochs_done: r.epochs_done as number,
    };
  }

  /** The latest training run of each model folder. */
  private static LATEST_PER_MODEL = `SELECT MAX(t.id) FROM (SELECT id,
        CASE WHEN json_valid(result_json) THEN json_extract(result_json, '$.model_dir') END AS dir
        FROM runs WHERE kind = 'train') t
      WHERE typeof(t.dir) = 'text' GROUP BY t.dir`;

  /**
   * The training that continued run `id` in its run folder (params.run_dir): the first later
   * training there, or null. A run that was continued is no longer resumable.
   */
  continuedBy(id: number): number | null {
    return this.read(() => {
      const r = this.db
        .prepare(
          `WITH t AS (SELECT id,
             CASE WHEN json_valid(params_json) THEN json_extract(params_json, '$.run_dir') END AS dir
             FROM runs WHERE kind = 'train')
           SELECT MIN(l.id) AS id FROM t r JOIN t l ON l.id > r.id AND l.dir = r.dir
           WHERE r.id = ? AND typeof(r.dir) = 'text'`,
        )
        .get(id) as { id: number | null } | undefined;
      return r?.id ?? null;
    });
  }

  private static RUN_SELECT = `SELECT r.*, m.id AS m_id, m.hostname AS m_hostname, m.os AS m_os, m.arch AS m_arch,
      m.cpu_model AS m_cpu_model, m.cpu_cores AS m_cpu_cores, m.cpu_threads AS m_cpu_threads,
      m.memory_bytes AS m_memory_bytes, m.gpus_json AS m_gpus_json, m.virtual AS m_virtual,
      -- a resumed training numbers its epochs on from the earlier attempts': the highest is the total
      COALESCE((SELECT MAX(e.epoch) FROM epochs e WHERE e.run_id = r.id), 0) AS epochs_done,
      x.kind AS x_kind
    FROM runs r LEFT JOIN machines m ON m.id = r.machine_id LEFT JOIN experiments x ON x.id = r.experiment_id`;

  /**
   * Runs, newest first. `models`: only the trainings that made a model, one per model folder
   * (result.model_dir): its latest run, so a training cancelled and resumed in its folder is
   * one model, not two.
   */
  listRuns(o: { kind?: string; status?: string; limit?: number; models?: boolean } = {}): RunRow[] {
    return this.read(() => {
      const rows = this.db
        .prepare(
          `${Store.RUN_SELECT} WHERE (@kind IS NULL OR r.kind = @kind) AND (@status IS NULL OR r.status = @status)
             AND (@models = 0 OR r.id IN (${Store.LATEST_PER_MODEL}))
           ORDER BY r.id DESC LIMIT @limit`,
        )
        .all({
          kind: o.kind ?? null,
          status: o.status ?? null,
          limit: o.limit ?? -1,
          models: o.models ? 1 : 0,
        }) as Record<string, unknown>[];
      return rows.map((r) => this.toRun(r));
    });
  }

  getRun(id: number): RunDetail | null {
    return this.read(() => {
      const r = this.db.prepare(`${Store.RUN_SELECT} WHERE r.id = ?`).get(id) as
        Record<string, unknown> | undefined;
      if (!r) return null;
      const epochs = (
        this.db.prepare('SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch').all(id) as Record<
          string,
          unknown
        >[]
      ).map((e): EpochRow => ({
        epoch: e.epoch as number,
        loss: e.loss as number | null,
        accuracy: e.accuracy as number | null,
        val_accuracy: e.val_accuracy as number | null,
        seconds: e.seconds as number | null,
        best: Boolean(e.best),
        checkpoint: e.checkpoint as string | null,
        ended_at: e.ended_at as string,
        energy: parse<EnergyRecord>(e.energy_json),
      }));
      const p = this.db.prepare('SELECT * FROM power WHERE run_id = ?').get(id) as
        Record<string, unknown> | undefined;
      return {
        ...this.toRun(r),
        epochs,
        power: p
          ? {
              source: p.source as string,
              sources: parse<string[]>(p.sources_json) ?? [],
              intervalMs: p.interval_ms as number,
              samples: p.samples as number,
              missed: p.missed as number,
              seconds: p.seconds as number,
              cpuJ: p.cpu_j as number,
              dramJ: p.dram_j as number,
              gpuJ: p.gpu_j as number,
              gpus: p.gpus as number,
              idleSeconds: p.idle_seconds as number,
              idleCpuW: p.idle_cpu_w as number,
              idleDramW: p.idle_dram_w as number,
              idleGpuW: p.idle_gpu_w as number,
              traceFile: p.trace_file as string | null,
              traceFormat: p.trace_format as string | null,
              updatedAt: p.updated_at as string,
            }
          : null,
      };
    });
  }

  /** Opens (or finds) an experiment grid by its id; returns the rows already finished. */
  /**
   * Opens a grid (new, or resumed with the pieces it finished). A new grid belongs to the
   * given experiment; a resumed one stays in the experiment it was first run in.
   */
  openGrid(
    id: string,
    kind: string,
    spec: unknown,
    experimentId: number | null = null,
  ): Map<string, { row: unknown; runId: number | null }> {
    const now = new Date().toISOString();
    this.write(() =>
      this.db
        .prepare(
          `INSERT INTO grids (id, kind, spec_json, status, created_at, updated_at, experiment_id) VALUES (?, ?, ?, 'running', ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET status = 'running', updated_at = excluded.updated_at,
           experiment_id = COALESCE(grids.experiment_id, excluded.experiment_id)`,
        )
        .run(id, kind, JSON.stringify(spec), now, now, experimentId),
    );
    const rows = this.db.prepare('SELECT key, row_json, run_id FROM grid_rows WHERE grid_id = ?').all(id) as {
      key: string;
      row_json: string;
      run_id: number | null;
    }[];
    return new Map(rows.map((r) => [r.key, { row: JSON.parse(r.row_json) as unknown, runId: r.run_id }]));
  }

  /** Records one finished piece of a grid (a scenario row, a decomposition, a baseline). */
  putGridRow(gridId: string, key: string, kind: string, row: unknown, runId: number | null): void {
    this.write(() =>
      this.db
        .prepare(
          `INSERT INTO grid_rows (grid_id, key, kind, run_id, row_json, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(grid_id, key) DO UPDATE SET row_json = excluded.row_json, run_id = excluded.run_id`,
        )
        .run(gridId, key, kind, runId, JSON.stringify(row), new Date().toISOString()),
    );
  }

  /** The experiment a grid was first run in, or null for a grid not run yet. */
  gridExperiment(id: string): number | null {
    const r = this.db.prepare('SELECT experiment_id FROM grids WHERE id = ?').get(id) as
      { experiment_id: number | null } | undefined;
    return r?.experiment_id ?? null;
  }

  setGridStatus(id: string, status: 'running' | 'finished' | 'failed' | 'cancelled'): void {
    this.write(() =>
      this.db
        .prepare('UPDATE grids SET status = ?, updated_at = ? WHERE id = ?')
        .run(status, new Date().toISOString(), id),
    );
  }
}
