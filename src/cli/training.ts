// A training as a command shows it: progress lines on stderr (every training's, nested ones
// too), recorded in the store, and its model and energy as the result on stdout.
import path from 'node:path';
import type { BackendName } from '../core/common/api.ts';
import type { LoadedDataset } from '../core/common/dataset.ts';
import { describeEnergy, energyAmounts, type EnergyRecord } from '../core/node/energy/formula.ts';
import type { MeasureContext, RunEnergy, TrainingProgress } from '../core/node/measure/measured.ts';
import { recordTrainingRun, type RecordedTraining } from '../core/node/measure/training.ts';
import { describeResume } from '../core/node/train/checkpoints.ts';
import { train, type TrainConfig, type TrainResult } from '../core/node/train/trainer.ts';
import { fmtPct, fmtSeconds, info, print } from './output.ts';

/**
 * Every training's progress as lines on stderr, in every mode: the command's own training
 * and those inside a demo, a grid or the wizard (scenario models, baselines). Epoch lines
 * carry the ETA of the whole training ("at most" when validation may stop it early), and a
 * batch line comes every few seconds within a long epoch.
 */
export function trainReporter(): TrainingProgress {
  let lastBatchLine = 0;
  let early = false;
  const eta = (s: number) => `ETA ${early ? 'at most ' : ''}${fmtSeconds(s)}`;
  return (e) => {
    if (e.type === 'start') {
      early = e.patience > 0;
      lastBatchLine = Date.now();
      info(
        `training on ${e.trainImages} images (${e.valImages} for validation), backend ${e.backendDetail}; ${e.workers} ${e.backend === 'onnxruntime' ? 'thread' : 'engine'}${e.workers === 1 ? '' : 's'}` +
          (e.startEpoch > 0 ? `, resuming after epoch ${e.startEpoch}` : ''),
      );
      const resumed = describeResume(e.resume);
      if (resumed) info(`warning: ${resumed}`);
    } else if (e.type === 'batch') {
      const now = Date.now();
      if (now - lastBatchLine > 2000 && e.batch < e.batches) {
        lastBatchLine = now;
        info(
          `  epoch ${e.epoch} batch ${e.batch}/${e.batches}  loss ${e.loss.toFixed(3)}  acc ${fmtPct(e.accuracy)}  ${e.imagesPerSecond.toFixed(0)} img/s  ${eta(e.etaSeconds)}`,
        );
      }
    } else if (e.type === 'epoch') {
      lastBatchLine = Date.now();
      info(
        `epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(3)}  train ${fmtPct(e.accuracy)}  val ${fmtPct(e.valAccuracy)}${e.best ? ' (best)' : ''}  ${e.seconds.toFixed(1)}s  ${e.imagesPerSecond.toFixed(0)} img/s` +
          (e.epoch < e.epochs ? `  ${eta(e.etaSeconds)}` : ''),
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
/** A training's run folder when none is given: in `parent`, named after the dataset, depth and seed. */
export const runFolderIn = (parent: string, datasetId: string, depth: number, seed: number) =>
  path.join(parent, `${datasetId}-r${depth}-s${seed}`);

export function trainRecorded(
  ctx: MeasureContext,
  o: {
    data: LoadedDataset;
    out: string;
    eng: { workers: number | undefined; backend: BackendName | null };
    config: Partial<TrainConfig>;
    params?: Record<string, unknown>;
  },
): Promise<RecordedTraining> {
  const runDir = path.resolve(o.out);
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
  });
}

/** A recorded run's energy as result lines (estimates labelled). */
export function printEnergy(runId: number, e: RunEnergy): void {
  const part = (label: string, x: EnergyRecord) => print(`  ${label.padEnd(18)} ${energyAmounts(x)}`);
  print(`energy       ${describeEnergy(e.energy)}`);
  if (e.fixedEpochs) part('fixed epochs', e.fixedEpochs);
  if (e.untilBest) part(`until best (ep ${e.bestEpoch})`, e.untilBest);
  print(`recorded as run ${runId} (decomposer runs show ${runId})`);
}

/** A recorded training as result lines: how it ended, the model, its accuracy, time and energy. */
export function printTraining(
  rec: RecordedTraining,
  model: ReturnType<typeof modelSummary>,
  out: string,
): void {
  const r = rec.result;
  if (r.status === 'cancelled')
    print(`cancelled after epoch ${r.epochsDone}; finished epochs are kept in ${out}`);
  print(
    `model        ResNet-${model.depth} on ${model.dataset}, ${model.classes} classes, ${model.epochs} epoch${model.epochs === 1 ? '' : 's'} (best ${model.best_epoch}), backend ${r.backend}`,
  );
  if (r.modelDir) {
    print(`test top-1   ${fmtPct(model.top1)}  top-5 ${fmtPct(model.top5)}`);
    print(`saved in     ${r.modelDir}`);
  }
  print(`time         ${fmtSeconds(model.seconds)}`);
  printEnergy(rec.runId, rec.energy);
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
