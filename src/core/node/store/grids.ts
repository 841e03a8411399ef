// Grids (reuse / replace experiments over many scenarios): one row per grid, and one per
// finished piece of it (a decomposition, a baseline, a scenario's row), so an interrupted grid
// resumes where it stopped. A grid belongs to the experiment it was first run in.
import { v } from '../../common/schema.ts';
import { iso, JsonObject, readJson, readRows, rowName, type StoreAccess } from './rows.ts';

export const GRID_STATUSES = ['running', 'finished', 'failed', 'cancelled'] as const;
export type GridStatus = (typeof GRID_STATUSES)[number];

/** A grid's finished pieces by key (scenario:…, baseline:…, decompose:…). */
export type GridPieces = Map<string, { row: unknown; runId: number | null }>;

/** A scenario row a grid finished, as an experiment shows it. */
export interface GridScenario {
  key: string;
  kind: string;
  /** An object (checked); its fields are the grid workflow's ScenarioRow. */
  row: unknown;
  run_id: number | null;
}

const PieceColumns = v.object({
  key: v.string(),
  kind: v.string(),
  row_json: v.unknown(),
  run_id: v.nullable(v.number()),
});

const SCENARIO = 'scenario:';

/** One task of a grid's plan, as a store records it (GridTaskColumns). */
export const GridTaskColumns = v.object({
  grid_id: v.string(),
  task_index: v.number(),
  tasks: v.number(),
  phase: v.number(),
  plan: v.string(),
  status: v.picklist(['running', 'finished', 'failed']),
  error: v.nullable(v.string()),
  host: v.string(),
  scheduler_json: v.nullable(v.string()),
  started_at: v.string(),
  ended_at: v.nullable(v.string()),
});

export type GridTaskRow = v.InferOutput<typeof GridTaskColumns>;

export class GridsRepository {
  private readonly s: StoreAccess;

  constructor(s: StoreAccess) {
    this.s = s;
  }

  /**
   * Opens a grid (new, or resumed with the pieces it finished). A new grid belongs to the
   * given experiment; a resumed one stays in the experiment it was first run in. A piece
   * whose row cannot be read is left out, so the grid runs it again.
   */
  open(id: string, kind: string, spec: unknown, experimentId: number | null = null): GridPieces {
    const now = iso();
    this.s.write(() =>
      this.s.db
        .prepare(
          `INSERT INTO grids (id, kind, spec_json, status, created_at, updated_at, experiment_id) VALUES (?, ?, ?, 'running', ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET status = 'running', updated_at = excluded.updated_at,
           experiment_id = COALESCE(grids.experiment_id, excluded.experiment_id)`,
        )
        .run(id, kind, JSON.stringify(spec), now, now, experimentId),
    );
    const pieces = this.pieces(
      this.s.db.prepare('SELECT key, kind, row_json, run_id FROM grid_rows WHERE grid_id = ?').all(id),
      `grid ${id}`,
      'it is run again',
      JsonObject,
    );
    return new Map(pieces.map((p) => [p.key, { row: p.row, runId: p.run_id }]));
  }

  /** Records one finished piece of a grid (a scenario row, a decomposition, a baseline). */
  putRow(gridId: string, key: string, kind: string, row: unknown, runId: number | null): void {
    this.s.write(() =>
      this.s.db
        .prepare(
          `INSERT INTO grid_rows (grid_id, key, kind, run_id, row_json, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(grid_id, key) DO UPDATE SET row_json = excluded.row_json, run_id = excluded.run_id`,
        )
        .run(gridId, key, kind, runId, JSON.stringify(row), iso()),
    );
  }

  /** The experiment a grid was first run in, or null for a grid not run yet. */
  experimentOf(id: string): number | null {
    const r = v.safeParse(
      v.object({ experiment_id: v.nullable(v.number()) }),
      this.s.read(() => this.s.db.prepare('SELECT experiment_id FROM grids WHERE id = ?').get(id)),
    );
    return r.success ? r.output.experiment_id : null;
  }

  setStatus(id: string, status: GridStatus): void {
    this.s.write(() =>
      this.s.db.prepare('UPDATE grids SET status = ?, updated_at = ? WHERE id = ?').run(status, iso(), id),
    );
  }

  /** The scenario rows an experiment's runs finished, in the order of their runs. */
  scenariosOf(experimentId: number): GridScenario[] {
    return this.s.read(() =>
      this.pieces(
        this.s.db
          .prepare(
            `SELECT g.key, g.kind, g.row_json, g.run_id FROM grid_rows g JOIN runs r ON r.id = g.run_id
           WHERE r.experiment_id = ? AND g.key LIKE '${SCENARIO}%' ORDER BY g.run_id`,
          )
          .all(experimentId),
        `experiment ${experimentId}`,
        'it is left out',
        JsonObject,
      ).map((p) => ({ key: p.key.slice(SCENARIO.length), kind: p.kind, row: p.row, run_id: p.run_id })),
    );
  }

  /**
   * The newest finished grid and its scenario rows, each checked with `schema` (a row that
   * breaks it is left out, with a warning); null when no grid has finished.
   */
  latestFinished<S extends v.GenericSchema>(
    schema: S,
  ): { id: string; kind: string; scenarios: v.InferOutput<S>[] } | null {
    return this.s.read(() => {
      const grid = v.safeParse(
        v.object({ id: v.string(), kind: v.string() }),
        this.s.db
          .prepare(`SELECT id, kind FROM grids WHERE status = 'finished' ORDER BY updated_at DESC LIMIT 1`)
          .get(),
      );
      if (!grid.success) return null;
      const { id, kind } = grid.output;
      const scenarios = this.pieces(
        this.s.db
          .prepare(
            `SELECT key, kind, row_json, run_id FROM grid_rows WHERE grid_id = ? AND key LIKE '${SCENARIO}%'`,
          )
          .all(id),
        `grid ${id}`,
        'it is left out',
        schema,
      ).map((p) => p.row);
      return { id, kind, scenarios };
    });
  }

  /**
   * The machines a grid's pieces ran on (its decompositions, baselines and scenarios), with
   * how many pieces each ran: more than one when its tasks ran across a cluster.
   */
  machinesOf(gridId: string): { hostname: string; cpu_model: string; pieces: number }[] {
    return this.s.read(() =>
      readRows(
        this.s,
        v.object({ hostname: v.string(), cpu_model: v.string(), pieces: v.number() }),
        this.s.db
          .prepare(
            `SELECT m.hostname, m.cpu_model, COUNT(*) AS pieces FROM grid_rows g
               JOIN runs r ON r.id = g.run_id JOIN machines m ON m.id = r.machine_id
             WHERE g.grid_id = ? GROUP BY m.id ORDER BY m.hostname`,
          )
          .all(gridId),
        rowName('machine', 'hostname'),
      ),
    );
  }

  /** A task of the grid's plan starts in this store (a shard), or starts again. */
  taskStarted(t: Omit<GridTaskRow, 'status' | 'error' | 'ended_at'>): void {
    this.s.write(() =>
      this.s.db
        .prepare(
          `INSERT INTO grid_tasks (grid_id, task_index, tasks, phase, plan, status, host, scheduler_json, started_at)
           VALUES (@grid_id, @task_index, @tasks, @phase, @plan, 'running', @host, @scheduler_json, @started_at)
           ON CONFLICT(grid_id, task_index) DO UPDATE SET status = 'running', error = NULL, ended_at = NULL,
             host = excluded.host, scheduler_json = excluded.scheduler_json, started_at = excluded.started_at`,
        )
        .run(t),
    );
  }

  /** How a task of the grid's plan ended. */
  taskEnded(gridId: string, index: number, status: 'finished' | 'failed', error: string | null): void {
    this.s.write(() =>
      this.s.db
        .prepare(
          'UPDATE grid_tasks SET status = ?, error = ?, ended_at = ? WHERE grid_id = ? AND task_index = ?',
        )
        .run(status, error, iso(), gridId, index),
    );
  }

  /** The tasks of grids' plans this store holds (a shard's own, or every merged one). */
  tasks(gridId?: string): GridTaskRow[] {
    return this.s.read(() =>
      readRows(
        this.s,
        GridTaskColumns,
        this.s.db
          .prepare('SELECT * FROM grid_tasks WHERE (@g IS NULL OR grid_id = @g) ORDER BY grid_id, task_index')
          .all({ g: gridId ?? null }),
        rowName('grid task', 'task_index'),
      ),
    );
  }

  /** Rows of grid_rows with their row parsed with `schema` (unreadable ones left out, with a warning). */
  private pieces<S extends v.GenericSchema>(
    rows: unknown[],
    where: string,
    outcome: string,
    schema: S,
  ): { key: string; kind: string; row: v.InferOutput<S>; run_id: number | null }[] {
    const out: { key: string; kind: string; row: v.InferOutput<S>; run_id: number | null }[] = [];
    for (const p of readRows(this.s, PieceColumns, rows, rowName(`${where}: piece`, 'key'))) {
      const row = readJson(this.s, schema, p.row_json, null, `${where}, ${p.key}`, 'row', outcome);
      if (row !== null) out.push({ key: p.key, kind: p.kind, row, run_id: p.run_id });
    }
    return out;
  }
}
