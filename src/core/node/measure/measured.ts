// The one place a run is measured and recorded: start the recorder (power sources, idle
// power unless a series measured it already), run the work, and finish the run as finished,
// cancelled or failed with its energy. Every shell and workflow (CLI commands, app jobs,
// grids, the wizard, trainings) records its runs through `measured`, so a run ends the same
// way wherever it started: a failure while the signal is aborted is a cancel, and a failure
// to record the ending never hides the work's own error.
import type { IdlePowers } from '../energy/formula.ts';
import type { TrainEvent } from '../train/trainer.ts';
import type { Settings } from '../store/settings.ts';
import type { RunRole } from '../../common/api.ts';
import type { RunKind } from '../store/run-rows.ts';
import type { Store } from '../store/store.ts';
import { RunRecorder, type CarriedEnergy, type RunEnergy } from './recorder.ts';

/** Where and how runs are recorded; shared by every run of a job or a series. */
export interface MeasureContext {
  store: Store;
  settings: Settings;
  /** Idle power measured once for a series of runs (then none is measured per run). */
  idle?: IdlePowers;
  /** Aborted: a run whose work fails is recorded as cancelled. */
  signal?: AbortSignal;
  /** The recorder's own lines (energy source, idle measurement, warnings). */
  onInfo?: (line: string) => void;
  /** The experiment every run of this context belongs to (none: each run is its own). */
  experimentId?: number;
  /**
   * Every training's progress (start, batches, epochs with their ETA, the test evaluation),
   * with what it trains: the one way a shell sees a training, whether it is the command's own
   * or one inside a demo, a grid or the wizard (scenario models, baselines, repairs).
   */
  onTraining?: TrainingProgress;
}

/** A training's event, and what it trains (its run's label). */
export type TrainingProgress = (e: TrainEvent, what: string) => void;

/** How a run ended, from what its work returned. */
export interface Outcome {
  /** Default finished; a training stopped by its signal returns cancelled. */
  status?: 'finished' | 'cancelled';
  result?: unknown;
  bestEpoch?: number;
  /** A resumed training: what its earlier attempts spent. */
  carried?: CarriedEnergy;
}

/** One run to measure. An options object, so the store's run roles and experiments can join it. */
export interface RunSpec<T> {
  kind: RunKind;
  params: Record<string, unknown>;
  label?: string;
  /** Its role in the experiment (default: what its kind does), and the scenario it serves. */
  role?: RunRole;
  scenario?: string;
  /** Called once the run is recorded as running (idle power measured), before the work. */
  onStart?: (rec: RunRecorder) => void;
  /** The run's ending from the work's value (default: finished, no result). */
  outcome?: (value: T, rec: RunRecorder) => Outcome;
}

export interface Measured<T> {
  value: T;
  runId: number;
  energy: RunEnergy;
}

export async function measured<T>(
  ctx: MeasureContext,
  run: RunSpec<NoInfer<T>>,
  work: (rec: RunRecorder) => Promise<T>,
): Promise<Measured<T>> {
  const rec = await RunRecorder.start({
    store: ctx.store,
    kind: run.kind,
    params: run.params,
    label: run.label,
    experimentId: ctx.experimentId,
    role: run.role,
    scenario: run.scenario,
    settings: ctx.settings,
    idle: ctx.idle,
    onInfo: ctx.onInfo,
  });
  run.onStart?.(rec);
  let value: T;
  try {
    value = await work(rec);
  } catch (err) {
    await rec
      .finish(ctx.signal?.aborted ? 'cancelled' : 'failed', { error: (err as Error).message })
      .catch(() => undefined);
    throw err;
  }
  const { status = 'finished', ...extra } = run.outcome?.(value, rec) ?? {};
  const energy = await rec.finish(status, extra);
  return { value, runId: rec.id, energy };
}

/**
 * The idle power to subtract, measured once for a series of runs (a visible warning and zero
 * when the settings skip it).
 */
export function idlePowers(settings: Settings, onInfo?: (line: string) => void): Promise<IdlePowers> {
  return RunRecorder.idlePowers(settings, undefined, onInfo);
}

export type { CarriedEnergy, RunEnergy, RunRecorder };
