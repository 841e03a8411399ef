// How a run is read back: the one SELECT (its machine, its epoch count and its experiment's
// kind joined), the schema of its columns and of each JSON column, and the row it becomes.
// Both the runs and the experiments (their run lists) read runs this way.
import { EXPERIMENT_KINDS, RUN_ROLES, type ExperimentKind, type RunRole } from '../../common/api.ts';
import { EnergyFigureSchema, type EnergyFigure } from '../../common/energy.ts';
import { v } from '../../common/schema.ts';
import { SCHEDULER_FACTS, type SchedulerFacts } from '../energy/scheduler.ts';
import type { EpochRow } from './epochs.ts';
import { MACHINE_SELECT, MachineColumns, machineOf, type MachineRow } from './machines.ts';
import type { PowerRow } from './power.ts';
import { JsonObject, jsonText, readJson, readRows, rowName, type StoreAccess } from './rows.ts';

export const RUN_KINDS = ['train', 'decompose', 'evaluate', 'reuse', 'replace'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const RUN_STATUSES = ['running', 'finished', 'cancelled', 'failed', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunRow {
  id: number;
  kind: RunKind;
  label: string | null;
  status: RunStatus;
  error: string | null;
  params: Record<string, unknown>;
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
  machine: MachineRow | null;
  /** The scheduler the run ran under (Slurm, an Indexed Job), or null outside one. */
  scheduler: SchedulerFacts | null;
  result: unknown;
  energy: EnergyFigure | null;
  best_epoch: number | null;
  /** Training: energy through the last epoch (the paper's "fixed epochs"). */
  energy_fixed_epochs: EnergyFigure | null;
  /** Training: energy through the epoch of the best validation checkpoint. */
  energy_until_best: EnergyFigure | null;
  epochs_done: number;
}

export interface RunDetail extends RunRow {
  epochs: EpochRow[];
  power: PowerRow | null;
}

export const RUN_SELECT = `SELECT r.*, ${MACHINE_SELECT},
      -- a resumed training numbers its epochs on from the earlier attempts': the highest is the total
      COALESCE((SELECT MAX(e.epoch) FROM epochs e WHERE e.run_id = r.id), 0) AS epochs_done,
      x.kind AS x_kind
    FROM runs r LEFT JOIN machines m ON m.id = r.machine_id LEFT JOIN experiments x ON x.id = r.experiment_id`;

const nullableText = v.nullable(v.string());
const nullableNumber = v.nullable(v.number());

/** A row of RUN_SELECT. */
const RunColumns = v.object({
  id: v.number(),
  kind: v.picklist(RUN_KINDS),
  label: nullableText,
  status: v.picklist(RUN_STATUSES),
  error: nullableText,
  params_json: jsonText,
  started_at: v.string(),
  ended_at: nullableText,
  seconds: nullableNumber,
  heartbeat_at: v.string(),
  pid: v.number(),
  host: v.string(),
  backend: nullableText,
  backend_detail: nullableText,
  experiment_id: nullableNumber,
  x_kind: v.nullable(v.picklist(EXPERIMENT_KINDS)),
  role: v.nullable(v.picklist(RUN_ROLES)),
  scenario: nullableText,
  result_json: jsonText,
  energy_json: jsonText,
  best_epoch: nullableNumber,
  energy_fixed_json: jsonText,
  energy_until_best_json: jsonText,
  epochs_done: v.number(),
  scheduler_json: jsonText,
  ...MachineColumns,
});

type RunColumns = v.InferOutput<typeof RunColumns>;

/** A run's result: whatever its kind returned (any JSON). */
const RunResult = v.unknown();

function toRun(s: StoreAccess, r: RunColumns): RunRow {
  const where = `run ${r.id}`;
  const energy = (text: unknown, field: string) => readJson(s, EnergyFigureSchema, text, null, where, field);
  return {
    id: r.id,
    kind: r.kind,
    label: r.label,
    status: r.status,
    error: r.error,
    params: readJson(s, JsonObject, r.params_json, {}, where, 'parameters'),
    started_at: r.started_at,
    ended_at: r.ended_at,
    seconds: r.seconds,
    heartbeat_at: r.heartbeat_at,
    pid: r.pid,
    host: r.host,
    backend: r.backend,
    backend_detail: r.backend_detail,
    experiment_id: r.experiment_id,
    experiment_kind: r.x_kind,
    role: r.role,
    scenario: r.scenario,
    machine: machineOf(s, r, where),
    scheduler: readJson(s, SCHEDULER_FACTS, r.scheduler_json, null, where, 'scheduler'),
    result: readJson(s, RunResult, r.result_json, null, where, 'result'),
    energy: energy(r.energy_json, 'energy'),
    best_epoch: r.best_epoch,
    energy_fixed_epochs: energy(r.energy_fixed_json, 'energy through its last epoch'),
    energy_until_best: energy(r.energy_until_best_json, 'energy until its best epoch'),
    epochs_done: r.epochs_done,
  };
}

/** Rows of RUN_SELECT as runs (a row whose own columns are unreadable is left out, with a warning). */
export function readRuns(s: StoreAccess, rows: unknown[]): RunRow[] {
  return readRows(s, RunColumns, rows, rowName('run')).map((r) => toRun(s, r));
}
