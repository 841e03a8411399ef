// Measures and records one training run in the store, the same way for every shell (CLI,
// jobs behind the UI): idle power first, power while `work` trains, cumulative energy at
// every epoch end, and how it ended (finished, cancelled, failed).
//
// A training resumed in its run folder (after a kill or a cancel) records what training from
// scratch cost: its energy figures add those of the earlier runs in the same folder
// (params.run_dir) up to the epoch it resumed after, and its result says which runs were
// carried and whether they covered every epoch (`energy_carried`). Each epoch's energy is also
// kept in the run folder (./ledger.ts), for a training resumed where that store is out of reach.
import os from 'node:os';
import path from 'node:path';
import type { BackendName } from '../../common/api.ts';
import type { LoadedDataset } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { train, type TrainConfig, type TrainEvent, type TrainResult } from '../train/trainer.ts';
import { importedArchitecture } from '../train/architecture.ts';
import type { RunRecorder, CarriedEnergy, RunEnergy } from './recorder.ts';
import type { RunRole } from '../../common/api.ts';
import type { Store } from '../store/store.ts';
import { addEnergy, type EnergyRecord } from '../energy/formula.ts';
import { refuseIfLocked } from '../fs/lock.ts';
import { checkRunFolder } from '../train/run-folder.ts';
import { ledgerPriors, recordLedgerEpoch, type PriorRun } from './ledger.ts';
import { measured, type MeasureContext } from './measured.ts';

export interface RecordTrainingOptions extends MeasureContext {
  params: Record<string, unknown>;
  /**
   * The training's run folder (where `work` trains and resumes), recorded as params.run_dir
   * (absolute); without it, params.run_dir is used. A resumed run finds its earlier attempts
   * by it.
   */
  runDir?: string;
  label?: string;
  /** Its role in the experiment (default: the model) and the scenario it serves (a baseline's). */
  role?: RunRole;
  scenario?: string;
  /** Called once the recorder runs (idle power measured), before `work` starts. */
  onRecorder?: (rec: RunRecorder) => void;
  /** Trains, passing every event on (they reach the context's `onTraining`). */
  work: (onEvent: (e: TrainEvent) => void) => Promise<TrainResult>;
}

/** Which earlier runs a resumed training's energy includes, and through which epoch. */
export interface EnergyCarried {
  from_runs: number[];
  through_epoch: number;
  /** False when the earlier runs do not reach the epoch the training resumed after. */
  complete: boolean;
  /**
   * Set when the earlier attempts were read from the run folder's ledger (their store out of
   * reach: another node's): how many attempts it carried. from_runs is then empty.
   */
  from_run_folder?: number;
}

export interface RecordedTraining {
  result: TrainResult;
  runId: number;
  /** Including the earlier attempts' energy when the training resumed (see `carried`). */
  energy: RunEnergy;
  /** Set when the training resumed. */
  carried?: EnergyCarried;
}

export type { PriorRun };

/**
 * The energy of the earlier attempts at one training, epoch by epoch: element k-1 is the
 * energy through epoch k and the run that finished it. Runs are walked oldest first; a run
 * continues the chain when its first recorded epoch is the next one not yet covered. A run
 * whose first epoch is already covered started over from an earlier checkpoint (its folder
 * was reset): the chain goes on from its start, so nothing is counted twice. A run that
 * leaves a gap is skipped.
 */
export function energyChain(runs: PriorRun[]): { energy: EnergyRecord; run: number }[] {
  let chain: { energy: EnergyRecord; run: number }[] = [];
  for (const r of [...runs].sort((a, b) => a.id - b.id)) {
    const eps = [...r.epochs].sort((a, b) => a.epoch - b.epoch);
    const first = eps[0];
    if (!first?.energy || first.epoch < 1 || first.epoch > chain.length + 1) continue;
    chain = chain.slice(0, first.epoch - 1);
    const base = chain.at(-1)?.energy ?? null;
    for (const e of eps) {
      if (e.epoch !== chain.length + 1 || !e.energy) break;
      chain.push({ energy: base ? addEnergy(base, e.energy) : e.energy, run: r.id });
    }
  }
  return chain;
}

/** What the runs before `runId` in `runDir` spent through epoch `after` (the resume point). */
export function carriedEnergy(
  store: Store,
  runDir: string | null,
  runId: number,
  after: number,
  attempt = '',
): { carried: CarriedEnergy; info: EnergyCarried } {
  let chain = runDir ? energyChain(store.epochs.earlierTrainingsIn(runDir, runId)) : [];
  let folder: number | undefined;
  // Earlier attempts this store never saw (run on another node) are in the run folder.
  if (runDir && chain.length < after) {
    const fromFolder = energyChain(ledgerPriors(runDir, attempt));
    if (fromFolder.length > chain.length) {
      chain = fromFolder;
      folder = new Set(fromFolder.slice(0, Math.min(after, fromFolder.length)).map((c) => c.run)).size;
    }
  }
  const known = Math.min(after, chain.length);
  const through = (k: number) => {
    const i = Math.min(k, known);
    return i > 0 ? chain[i - 1]!.energy : null;
  };
  return {
    carried: { after, through },
    info: {
      from_runs: folder === undefined ? [...new Set(chain.slice(0, known).map((c) => c.run))] : [],
      through_epoch: known,
      complete: known === after,
      ...(folder !== undefined ? { from_run_folder: folder } : {}),
    },
  };
}

export async function recordTrainingRun(o: RecordTrainingOptions): Promise<RecordedTraining> {
  const dir = o.runDir ?? (typeof o.params.run_dir === 'string' ? o.params.run_dir : null);
  const runDir = dir === null ? null : path.resolve(dir);
  // A folder another process trains in, or one that is not a run folder, is refused before
  // anything is recorded (train() itself checks the folder and holds its lock while it trains).
  if (runDir) {
    await checkRunFolder(runDir);
    await refuseIfLocked(runDir);
  }
  // Set when the run ends: which earlier attempts a resumed training carries.
  const got: { carried?: EnergyCarried } = {};
  // This attempt in the run folder's energy ledger (the store's run id alone may repeat on another node).
  const attempt = { id: `${os.hostname()}:${process.pid}:${Date.now()}`, host: os.hostname() };
  const m = await measured(
    o,
    {
      kind: 'train',
      params: runDir === null ? o.params : { ...o.params, run_dir: runDir },
      label: o.label,
      role: o.role,
      scenario: o.scenario,
      onStart: o.onRecorder,
      outcome: (result: TrainResult, rec) => {
        const resumed =
          result.resumedFrom > 0
            ? carriedEnergy(o.store, runDir, rec.id, result.resumedFrom, attempt.id)
            : null;
        if (resumed) got.carried = resumed.info;
        if (resumed && !resumed.info.complete)
          o.onInfo?.(
            `warning: this training resumed after epoch ${result.resumedFrom}, but the recorded earlier runs cover only ${resumed.info.through_epoch} epochs: its energy leaves out the rest.`,
          );
        return {
          status: result.status,
          bestEpoch: result.bestEpoch || undefined,
          carried: resumed?.carried,
          result: {
            epochs_done: result.epochsDone,
            best_epoch: result.bestEpoch,
            top1: result.top1,
            top5: result.top5,
            model_dir: result.modelDir,
            resumed_from: result.resumedFrom,
            stopped_early: result.stoppedEarly,
            converged: result.converged,
            ...(resumed ? { energy_carried: resumed.info } : {}),
          },
        };
      },
    },
    (rec) =>
      o.work((e) => {
        if (e.type === 'start') rec.setBackend(e.backend, e.backendDetail);
        else if (e.type === 'epoch') {
          const energy = rec.epoch({
            epoch: e.epoch,
            loss: e.loss,
            accuracy: e.accuracy,
            valAccuracy: e.valAccuracy,
            seconds: e.seconds,
            best: e.best,
            checkpoint: `checkpoints/epoch-${String(e.epoch).padStart(3, '0')}`,
          });
          if (runDir) recordLedgerEpoch(runDir, attempt, e.epoch, energy);
        }
        o.onTraining?.(e, o.label ?? 'training');
      }),
  );
  return { result: m.value, runId: m.runId, energy: m.energy, ...got };
}

export interface TrainAndRecordOptions extends Omit<RecordTrainingOptions, 'work' | 'runDir'> {
  runDir: string;
  data: LoadedDataset;
  config: Partial<TrainConfig>;
  workers?: number;
  backend?: BackendName | null;
  /** An imported model's folder: train its architecture (fresh weights) instead of a ResNet. */
  architecture?: string;
  /** What to tell the user when the training is cancelled (then a UserError 'cancelled' is thrown). */
  cancelled: { message: string; hint: string };
}

/** Trains one model in `runDir` and records it; a cancelled training throws. */
export async function trainAndRecord(
  o: TrainAndRecordOptions,
): Promise<RecordedTraining & { modelDir: string }> {
  const t = await recordTrainingRun({
    ...o,
    work: async (onEvent) =>
      train({
        runDir: o.runDir,
        data: o.data,
        workers: o.workers,
        backend: o.backend,
        signal: o.signal,
        onEvent,
        config: o.config,
        ...(o.architecture ? { architecture: await importedArchitecture(o.architecture) } : {}),
      }),
  });
  if (!t.result.modelDir || t.result.status !== 'finished')
    throw new UserError(o.cancelled.message, o.cancelled.hint, 'cancelled');
  return { ...t, modelDir: t.result.modelDir };
}
