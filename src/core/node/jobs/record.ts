// Measures and records one training run in the store, the same way for every shell (CLI,
// jobs behind the UI): idle power first, power while `work` trains, cumulative energy at
// every epoch end, and how it ended (finished, cancelled, failed).
import type { TrainEvent, TrainResult } from '../train/trainer.ts';
import { RunRecorder, type RunEnergy } from '../store/recorder.ts';
import type { Settings } from '../store/settings.ts';
import type { Store } from '../store/store.ts';
import type { IdlePowers } from '../energy/formula.ts';

export interface RecordTrainingOptions {
  store: Store;
  settings: Settings;
  params: Record<string, unknown>;
  label?: string;
  onInfo?: (line: string) => void;
  /** Called once the recorder runs (idle power measured), before `work` starts. */
  onRecorder?: (rec: RunRecorder) => void;
  work: (onEvent: (e: TrainEvent) => void) => Promise<TrainResult>;
  onEvent?: (e: TrainEvent) => void;
  /** Idle power measured already for a series of runs (then none is measured here). */
  idle?: IdlePowers;
}

export interface RecordedTraining {
  result: TrainResult;
  runId: number;
  energy: RunEnergy;
}

export async function recordTrainingRun(o: RecordTrainingOptions): Promise<RecordedTraining> {
  const rec = await RunRecorder.start({
    store: o.store,
    kind: 'train',
    params: o.params,
    label: o.label,
    settings: o.settings,
    onInfo: o.onInfo,
    idle: o.idle,
  });
  o.onRecorder?.(rec);
  let result: TrainResult;
  try {
    result = await o.work((e) => {
      if (e.type === 'start') rec.setBackend(e.backend, e.backendDetail);
      else if (e.type === 'epoch')
        rec.epoch({
          epoch: e.epoch,
          loss: e.loss,
          accuracy: e.accuracy,
          valAccuracy: e.valAccuracy,
          seconds: e.seconds,
          best: e.best,
          checkpoint: `checkpoints/epoch-${String(e.epoch).padStart(3, '0')}`,
        });
      o.onEvent?.(e);
    });
  } catch (err) {
    await rec.finish('failed', { error: (err as Error).message });
    throw err;
  }
  const energy = await rec.finish(result.status, {
    bestEpoch: result.bestEpoch || undefined,
    result: {
      epochs_done: result.epochsDone,
      best_epoch: result.bestEpoch,
      top1: result.top1,
      top5: result.top5,
      model_dir: result.modelDir,
      resumed_from: result.resumedFrom,
    },
  });
  return { result, runId: rec.id, energy };
}
