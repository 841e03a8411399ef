// Experiments: what a person started (a demo, a reuse/replace grid, one custom scenario, a
// wizard session, or a training, decomposition or evaluation of its own). Every run belongs
// to one and plays a role in it; an experiment's status and energy come from its runs, in SQL.
import { randomUUID } from 'node:crypto';
import { EXPERIMENT_KINDS, type ExperimentKind } from '../../common/api.ts';
import { v } from '../../common/schema.ts';
import type { GridsRepository, GridScenario } from './grids.ts';
import { readRuns, RUN_SELECT, type RunRow, type RunStatus } from './run-rows.ts';
import { iso, JsonObject, jsonText, readJson, readRow, readRows, rowName, type StoreAccess } from './rows.ts';

export interface ExperimentRow {
  id: number;
  kind: ExperimentKind;
  label: string;
  params: Record<string, unknown>;
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
  scenarios: GridScenario[];
}

/** A run's energy record for SQL totals: NULL where the column is not JSON (read as absent). */
const ENERGY = 'CASE WHEN json_valid(r.energy_json) THEN r.energy_json END';

// Totals per experiment in SQL; the estimate rule is common/api.ts's isEstimatedSource,
// registered as a SQL function when the store opens.
const EXPERIMENT_SELECT = `SELECT e.*,
      COUNT(r.id) AS runs,
      COALESCE(SUM(json_extract(${ENERGY}, '$.kwh')), 0) AS kwh,
      COALESCE(SUM(json_extract(${ENERGY}, '$.co2e_kg')), 0) AS co2e_kg,
      COALESCE(SUM(json_extract(${ENERGY}, '$.co2e_lbs')), 0) AS co2e_lbs,
      COALESCE(SUM(CASE WHEN ${ENERGY} IS NOT NULL AND is_estimated_source(json_extract(${ENERGY}, '$.source')) THEN 1 ELSE 0 END), 0) AS estimated_runs,
      MAX(r.status = 'running') AS any_running,
      MAX(r.status = 'interrupted') AS any_interrupted,
      MAX(r.status = 'failed') AS any_failed,
      MAX(r.status = 'cancelled') AS any_cancelled,
      MAX(r.ended_at) AS ended_at
    FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id`;

/** MAX over no runs is NULL: an experiment without runs has none running. */
const flag = v.nullable(v.number());

/** A row of EXPERIMENT_SELECT. */
const ExperimentColumns = v.object({
  id: v.number(),
  kind: v.picklist(EXPERIMENT_KINDS),
  label: v.string(),
  params_json: jsonText,
  created_at: v.string(),
  runs: v.number(),
  kwh: v.number(),
  co2e_kg: v.number(),
  co2e_lbs: v.number(),
  estimated_runs: v.number(),
  any_running: flag,
  any_interrupted: flag,
  any_failed: flag,
  any_cancelled: flag,
  ended_at: v.nullable(v.string()),
});

function toExperiment(s: StoreAccess, r: v.InferOutput<typeof ExperimentColumns>): ExperimentRow {
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
    id: r.id,
    kind: r.kind,
    label: r.label,
    params: readJson(s, JsonObject, r.params_json, {}, `experiment ${r.id}`, 'parameters'),
    created_at: r.created_at,
    status,
    ended_at: status === 'running' ? null : r.ended_at,
    runs: r.runs,
    kwh: r.kwh,
    co2e_kg: r.co2e_kg,
    co2e_lbs: r.co2e_lbs,
    estimated_runs: r.estimated_runs,
  };
}

export class ExperimentsRepository {
  private readonly s: StoreAccess;
  private readonly grids: GridsRepository;

  constructor(s: StoreAccess, grids: GridsRepository) {
    this.s = s;
    this.grids = grids;
  }

  /**
   * A new experiment: the runs started with its id belong to it. `uid` (default: a new one)
   * is its id in every store: the tasks of one grid's plan give theirs the plan's, so their
   * shards merge into one experiment.
   */
  start(e: { kind: ExperimentKind; label: string; params?: unknown; uid?: string }): number {
    if (!EXPERIMENT_KINDS.includes(e.kind)) throw new Error(`unknown experiment kind ${e.kind}`);
    return this.s.write(() =>
      Number(
        this.s.db
          .prepare(
            'INSERT INTO experiments (kind, label, params_json, created_at, uid) VALUES (?, ?, ?, ?, ?)',
          )
          .run(e.kind, e.label, JSON.stringify(e.params ?? {}), iso(), e.uid ?? randomUUID()).lastInsertRowid,
      ),
    );
  }

  /** The experiment with this stable id, or null. */
  byUid(uid: string): number | null {
    const r = v.safeParse(
      v.object({ id: v.number() }),
      this.s.read(() => this.s.db.prepare('SELECT id FROM experiments WHERE uid = ?').get(uid)),
    );
    return r.success ? r.output.id : null;
  }

  /** Experiments, newest first, with their runs' totals. */
  list(o: { kind?: ExperimentKind; limit?: number } = {}): ExperimentRow[] {
    return this.s.read(() =>
      readRows(
        this.s,
        ExperimentColumns,
        this.s.db
          .prepare(
            `${EXPERIMENT_SELECT} WHERE (@kind IS NULL OR e.kind = @kind) GROUP BY e.id ORDER BY e.id DESC LIMIT @limit`,
          )
          .all({ kind: o.kind ?? null, limit: o.limit ?? -1 }),
        rowName('experiment'),
      ).map((r) => toExperiment(this.s, r)),
    );
  }

  /** An experiment with its runs and the scenario rows they finished, or null when there is none. */
  get(id: number): ExperimentDetail | null {
    return this.s.read(() => {
      const raw = this.s.db.prepare(`${EXPERIMENT_SELECT} WHERE e.id = ? GROUP BY e.id`).get(id);
      const r = raw === undefined ? null : readRow(this.s, ExperimentColumns, raw, rowName('experiment'));
      if (!r) return null;
      const runs = readRuns(
        this.s,
        this.s.db.prepare(`${RUN_SELECT} WHERE r.experiment_id = ? ORDER BY r.id`).all(id),
      );
      return { ...toExperiment(this.s, r), run_list: runs, scenarios: this.grids.scenariosOf(id) };
    });
  }
}
