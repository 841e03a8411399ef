// A training as a command shows it: progress lines on stderr, recorded in the store, and its
// model and energy summarised.
import path from 'node:path';
import type { BackendName } from '../core/common/api.ts';
import type { LoadedDataset } from '../core/common/dataset.ts';
import { describeEnergy, type EnergyRecord } from '../core/node/energy/formula.ts';
import type { MeasureContext, RunEnergy } from '../core/node/measure/measured.ts';
import { recordTrainingRun, type RecordedTraining } from '../core/node/measure/training.ts';
import { describeResume } from '../core/node/train/checkpoints.ts';
import { train, type TrainConfig, type TrainEvent, type TrainResult } from '../core/node/train/trainer.ts';
import { fmtPct, fmtSeconds, info } from './output.ts';

/** Prints training progress as readable lines on stderr. */
export function trainReporter(quiet: boolean): (e: TrainEvent) => void {
  let lastBatchLine = 0;
  return (e) => {
    if (quiet) return;
    if (e.type === 'start') {
      info(
        `training on ${e.trainImages} images (${e.valImages} for validation), backend ${e.backendDetail}; ${e.workers} ${e.backend === 'onnxruntime' ? 'thread' : 'engine'}${e.workers === 1 ? '' : 's'}` +
          (e.startEpoch > 0 ? `, resuming after epoch ${e.startEpoch}` : ''),
      );
      const resumed = describeResume(e.resume);
      if (resumed) info(`warning: ${resumed}`);
    } else if (e.type === 'batch') {
      const now = Date.now();
      if (now - lastBatchLine > 2000 || e.batch === e.batches) {
        lastBatchLine = now;
        info(
          `  epoch ${e.epoch} batch ${e.batch}/${e.batches}  loss ${e.loss.toFixed(3)}  acc ${fmtPct(e.accuracy)}  ${e.imagesPerSecond.toFixed(0)} img/s  ETA ${fmtSeconds(e.etaSeconds)}`,
        );
      }
    } else if (e.type === 'epoch') {
      info(
        `epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(3)}  train ${fmtPct(e.accuracy)}  val ${fmtPct(e.valAccuracy)}${e.best ? ' (best)' : ''}  ${e.seconds.toFixed(1)}s  ${e.imagesPerSecond.toFixed(0)} img/s`,
      );
    } else if (e.type === 'evaluate') {
      info('evaluating the best checkpoint on the test set…');
    }
  };
}

/**
 * Trains `data` into the run folder `out`, recorded in the store (idle power first, power
 * while it trains, cumulative energy at every epoch end, how it ended), reporting progress.
 */
export function trainRecorded(
  ctx: MeasureContext,
  o: {
    data: LoadedDataset;
    out: string;
    eng: { workers: number | undefined; backend: BackendName | null };
    config: Partial<TrainConfig>;
    json: boolean;
    /** Progress lines on stderr even with --json (stdout keeps only the JSON). */
    progress?: boolean;
    params?: Record<string, unknown>;
  },
): Promise<RecordedTraining> {
  const runDir = path.resolve(o.out);
  if (ctx.settings.idleSeconds === 0 && o.json) info('warning: idle power not measured (--idle-seconds 0)');
  return recordTrainingRun({
    ...ctx,
    params: { ...o.params, dataset: o.data.info.id, workers: o.eng.workers ?? null, ...o.config },
    runDir,
    work: (onEvent) =>
      train({
        runDir,
        data: o.data,
        workers: o.eng.workers,
        backend: o.eng.backend,
        signal: ctx.signal,
        onEvent,
        config: o.config,
      }),
    onEvent: trainReporter(o.json && !o.progress),
  });
}

/** Human lines for a recorded run's energy (estimates labelled). */
export function printEnergy(runId: number, e: RunEnergy): void {
  const short = (x: EnergyRecord) =>
    `${x.kwh.toPrecision(3)} kWh, ${x.co2e_lbs.toPrecision(3)} lbs / ${x.co2e_kg.toPrecision(3)} kg CO2e`;
  info(`energy       ${describeEnergy(e.energy)}`);
  if (e.fixedEpochs) info(`  fixed epochs       ${short(e.fixedEpochs)}`);
  if (e.untilBest) info(`  until best (ep ${e.bestEpoch}) ${short(e.untilBest)}`);
  info(`recorded as run ${runId} (decomposer runs show ${runId})`);
}

export function modelSummary(r: TrainResult, datasetName: string, classes: number, depth: number) {
  return {
    depth,
    dataset: datasetName,
    classes,
    epochs: r.epochsDone,
    best_epoch: r.bestEpoch,
    top1: r.top1,
    top5: r.top5,
    seconds: Math.round(r.seconds * 10) / 10,
  };
}
