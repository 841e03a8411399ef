// Runs: one row per measured piece of work (a training, a decomposition, an evaluation, a
// reuse or replace scenario). A run is inserted as 'running' with its owner (host, pid, the
// process's start time) and a heartbeat, and ends finished, cancelled or failed; one whose
// owner died is marked interrupted at the next start-up (./interrupted.ts).
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { RUN_ROLES, type ExperimentKind, type RunRole } from '../../common/api.ts';
import type { EnergyFigure } from '../../common/energy.ts';
import { v } from '../../common/schema.ts';
import type { MachineInfo } from '../energy/machine.ts';
import { schedulerFacts } from '../energy/scheduler.ts';
import { processStartTime } from '../fs/lock.ts';
import type { EpochsRepository } from './epochs.ts';
import type { ExperimentsRepository } from './experiments.ts';
import type { MachinesRepository } from './machines.ts';
import type { PowerRepository, PowerSummary } from './power.ts';
import {
  readRuns,
  RUN_KINDS,
  RUN_SELECT,
  type RunDetail,
  type RunKind,
  type RunRow,
  type RunStatus,
} from './run-rows.ts';
import { iso, toJson, type StoreAccess } from './rows.ts';

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

export interface RunStart {
  kind: RunKind;
  params: unknown;
  label?: string;
  machine?: MachineInfo;
  backend?: string;
  backendDetail?: string;
  experimentId?: number;
  role?: RunRole;
  scenario?: string;
}

export interface RunEnd {
  status: Exclude<RunStatus, 'running' | 'interrupted'>;
  error?: string;
  result?: unknown;
  energy?: EnergyFigure;
  energyFixedEpochs?: EnergyFigure | null;
  energyUntilBest?: EnergyFigure | null;
  bestEpoch?: number | null;
  seconds?: number;
}

export interface EnergyTotals {
  kwh: number;
  co2eKg: number;
  co2eLbs: number;
  /** Runs whose figures are estimates (no power counter): the store's is_estimated_source rule. */
  estimatedRuns: number;
  /** Runs with an energy record. */
  runs: number;
}

/** The latest training run of each model folder. */
const LATEST_PER_MODEL = `SELECT MAX(t.id) FROM (SELECT id,
        CASE WHEN json_valid(result_json) THEN json_extract(result_json, '$.model_dir') END AS dir
        FROM runs WHERE kind = 'train') t
      WHERE typeof(t.dir) = 'text' GROUP BY t.dir`;

const TotalsColumns = v.object({
  runs: v.number(),
  kwh: v.number(),
  co2e_kg: v.number(),
  co2e_lbs: v.number(),
  estimated: v.number(),
});

/** The repositories a run's start, end and page write to or read from. */
interface RunsNeeds {
  machines: MachinesRepository;
  experiments: ExperimentsRepository;
  epochs: EpochsRepository;
  power: PowerRepository;
}

export class RunsRepository {
  private readonly s: StoreAccess;
  private readonly repos: RunsNeeds;

  constructor(s: StoreAccess, repos: RunsNeeds) {
    this.s = s;
    this.repos = repos;
  }

  /**
   * Starts a run in its experiment, with its role there (default: what its kind does). A run
   * given no experiment is an experiment of its own (a `decomposer train`, say).
   */
  start(r: RunStart): number {
    if (!RUN_KINDS.includes(r.kind)) throw new Error(`unknown run kind ${r.kind}`);
    const role = r.role ?? DEFAULT_ROLE[r.kind];
    if (!RUN_ROLES.includes(role)) throw new Error(`unknown run role ${role}`);
    const now = iso();
    return this.s.write(() => {
      const machineId = r.machine ? this.repos.machines.idOf(r.machine) : null;
      const experimentId =
        r.experimentId ??
        this.repos.experiments.start({
          kind: OWN_EXPERIMENT[role],
          label: r.label ?? `${r.kind} run`,
          params: r.params,
        });
      return Number(
        this.s.db
          .prepare(
            `INSERT INTO runs (kind, label, params_json, status, started_at, heartbeat_at, pid, pid_start, host, machine_id, backend, backend_detail, experiment_id, role, scenario, uid, scheduler_json)
             VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            r.kind,
            r.label ?? null,
            JSON.stringify(r.params ?? {}),
            now,
            now,
            process.pid,
            processStartTime(process.pid),
            os.hostname(),
            machineId,
            r.backend ?? null,
            r.backendDetail ?? null,
            experimentId,
            role,
            r.scenario ?? null,
            // Stable across stores: a run merged from a cluster's shard is found again by it.
            randomUUID(),
            toJson(schedulerFacts() ?? undefined),
          ).lastInsertRowid,
      );
    });
  }

  setBackend(id: number, backend: string, detail: string): void {
    this.s.write(() =>
      this.s.db
        .prepare('UPDATE runs SET backend = ?, backend_detail = ? WHERE id = ?')
        .run(backend, detail, id),
    );
  }

  /** The run is alive; optionally with its power so far (one transaction). */
  heartbeat(id: number, power?: PowerSummary): void {
    this.repos.power.beat(id, power);
  }

  /** Records how the run ended, with its energy and its power summary (one transaction). */
  finish(id: number, f: RunEnd, power?: PowerSummary): void {
    this.s.write(() => {
      const now = iso();
      this.s.db
        .prepare(
          `UPDATE runs SET status = ?, error = ?, result_json = ?, energy_json = ?, energy_fixed_json = ?,
             energy_until_best_json = ?, best_epoch = COALESCE(?, best_epoch), ended_at = ?, heartbeat_at = ?,
             seconds = COALESCE(?, (julianday(?) - julianday(started_at)) * 86400.0)
           WHERE id = ?`,
        )
        .run(
          f.status,
          f.error ?? null,
          toJson(f.result),
          toJson(f.energy),
          toJson(f.energyFixedEpochs ?? undefined),
          toJson(f.energyUntilBest ?? undefined),
          f.bestEpoch ?? null,
          now,
          now,
          f.seconds ?? null,
          now,
          id,
        );
      if (power) this.repos.power.put(id, power);
    });
  }

  /**
   * Runs, newest first. `models`: only the trainings that made a model, one per model folder
   * (result.model_dir): its latest run, so a training cancelled and resumed in its folder is
   * one model, not two.
   */
  list(o: { kind?: string; status?: string; limit?: number; models?: boolean } = {}): RunRow[] {
    return this.s.read(() =>
      readRuns(
        this.s,
        this.s.db
          .prepare(
            `${RUN_SELECT} WHERE (@kind IS NULL OR r.kind = @kind) AND (@status IS NULL OR r.status = @status)
             AND (@models = 0 OR r.id IN (${LATEST_PER_MODEL}))
           ORDER BY r.id DESC LIMIT @limit`,
          )
          .all({
            kind: o.kind ?? null,
            status: o.status ?? null,
            limit: o.limit ?? -1,
            models: o.models ? 1 : 0,
          }),
      ),
    );
  }

  /** A run with its epochs and power summary, or null when there is none (or it is unreadable). */
  get(id: number): RunDetail | null {
    return this.s.read(() => {
      const [run] = readRuns(this.s, this.s.db.prepare(`${RUN_SELECT} WHERE r.id = ?`).all(id));
      if (!run) return null;
      return { ...run, epochs: this.repos.epochs.list(id), power: this.repos.power.get(id) };
    });
  }

  /**
   * The training that continued run `id` in its run folder (params.run_dir): the first later
   * training there, or null. A run that was continued is no longer resumable.
   */
  continuedBy(id: number): number | null {
    const r = v.safeParse(
      v.object({ id: v.nullable(v.number()) }),
      this.s.read(() =>
        this.s.db
          .prepare(
            `WITH t AS (SELECT id,
             CASE WHEN json_valid(params_json) THEN json_extract(params_json, '$.run_dir') END AS dir
             FROM runs WHERE kind = 'train')
           SELECT MIN(l.id) AS id FROM t r JOIN t l ON l.id > r.id AND l.dir = r.dir
           WHERE r.id = ? AND typeof(r.dir) = 'text'`,
          )
          .get(id),
      ),
    );
    return r.success ? r.output.id : null;
  }

  /**
   * Total energy and CO2e of every run that recorded its energy, computed by SQLite (one
   * query, however many runs there are) rather than by summing a page of rows.
   */
  energyTotals(): EnergyTotals {
    const row = this.s.read(() =>
      v.parse(
        TotalsColumns,
        this.s.db
          .prepare(
            `WITH e AS (
           SELECT json_extract(energy_json, '$.kwh') AS kwh,
                  json_extract(energy_json, '$.co2e_kg') AS co2e_kg,
                  json_extract(energy_json, '$.co2e_lbs') AS co2e_lbs,
                  json_extract(energy_json, '$.source') AS source
           FROM runs WHERE json_type(CASE WHEN json_valid(energy_json) THEN energy_json END) = 'object')
         SELECT COUNT(*) AS runs,
                COALESCE(SUM(kwh), 0) AS kwh,
                COALESCE(SUM(co2e_kg), 0) AS co2e_kg,
                COALESCE(SUM(co2e_lbs), 0) AS co2e_lbs,
                COALESCE(SUM(is_estimated_source(source)), 0) AS estimated
         FROM e`,
          )
          .get(),
      ),
    );
    return {
      kwh: row.kwh,
      co2eKg: row.co2e_kg,
      co2eLbs: row.co2e_lbs,
      estimatedRuns: row.estimated,
      runs: row.runs,
    };
  }
}
