// decomposer train: train a ResNet from scratch on a dataset, with checkpoints and resume.
import path from 'node:path';
import type { Command } from '../main.ts';
import { intOption, numberOption } from '../main.ts';
import { DATASET_HELP, parseDatasetArg } from '../datasets.ts';
import { EXIT, fmtPct, fmtSeconds, info, interruptSignal, printJson } from '../output.ts';
import { loadDataset } from '../../core/node/data/index.ts';
import { cacheDir, dataHome, runsDir } from '../../core/node/paths.ts';
import { parseBackendName } from '../../core/node/engine/backend.ts';
import {
  DEFAULT_TRAIN,
  train,
  type TrainConfig,
  type TrainEvent,
  type TrainResult,
} from '../../core/node/train/trainer.ts';
import type { GreyFit, LoadedDataset } from '../../core/common/dataset.ts';
import type { BackendName } from '../../core/common/api.ts';
import { describeEnergy, type EnergyRecord } from '../../core/node/energy/formula.ts';
import type { RunEnergy } from '../../core/node/measure/recorder.ts';
import { recordTrainingRun, type RecordedTraining } from '../../core/node/measure/training.ts';
import { effectiveSettings } from '../../core/node/store/settings.ts';
import { Store } from '../../core/node/store/store.ts';
import { dbFile } from './energy.ts';
import { UserError } from '../../core/common/errors.ts';

export const ENGINE_OPTIONS = {
  backend: { type: 'string' },
  workers: { type: 'string' },
  home: { type: 'string' },
} as const;

/** Energy and store options of every command that runs work. */
export const ENERGY_OPTIONS = {
  'idle-seconds': { type: 'string' },
  db: { type: 'string' },
} as const;

export const ENERGY_USAGE = `  --idle-seconds N    measure idle power for N s before the run and subtract it
                      (default 10, a setting; 0 skips it, with a warning)
  --db FILE           the run database (default <home>/decomposer.db)`;

export const TRAIN_OPTIONS = {
  dataset: { type: 'string', short: 'd' },
  size: { type: 'string' },
  fit: { type: 'string' },
  depth: { type: 'string' },
  epochs: { type: 'string', short: 'e' },
  batch: { type: 'string' },
  seed: { type: 'string' },
  lr: { type: 'string' },
  val: { type: 'string' },
  'no-augment': { type: 'boolean', default: false },
  'batch-norm': { type: 'boolean', default: false },
  out: { type: 'string', short: 'o' },
  ...ENGINE_OPTIONS,
  ...ENERGY_OPTIONS,
} as const;

export const ENGINE_USAGE = `  --backend NAME      auto (default) | tensorflow | wasm | cpu  (also DECOMPOSER_BACKEND)
  --workers N         engine worker threads (default: one per core; 0 = none)
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)
  --json              print one JSON object as the result
  -h, --help          this help`;

type Values = Record<string, string | boolean | undefined>;

export function engineSettings(v: Values): {
  backend: BackendName | null;
  workers: number | undefined;
  home: string;
} {
  return {
    backend: parseBackendName((v.backend as string | undefined) ?? process.env.DECOMPOSER_BACKEND),
    workers: v.workers === undefined ? undefined : intOption(v, 'workers', 0, 0),
    home: dataHome(v.home as string | undefined),
  };
}

export async function loadDatasetWithProgress(
  arg: string,
  size: number,
  seed: number,
  home: string,
  quiet: boolean,
  fit?: GreyFit,
): Promise<LoadedDataset> {
  const spec = parseDatasetArg(arg, size, seed, { home, fit });
  let last = '';
  const data = await loadDataset(spec, {
    cacheDir: cacheDir(home),
    onProgress: (p) => {
      const line = `${p.stage}${p.fraction !== null ? ` ${Math.round(p.fraction * 100)}%` : ''}`;
      if (!quiet && line !== last) info(`  ${line}`);
      last = line;
    },
  });
  for (const w of (data.info as { warnings?: string[] }).warnings ?? []) info(`warning: ${w}`);
  return data;
}

/** Prints training progress as readable lines on stderr. */
export function trainReporter(quiet: boolean): (e: TrainEvent) => void {
  let lastBatchLine = 0;
  return (e) => {
    if (quiet) return;
    if (e.type === 'start') {
      info(
        `training on ${e.trainImages} images (${e.valImages} for validation), backend ${e.backendDetail}; ${e.workers} engine${e.workers === 1 ? '' : 's'}` +
          (e.startEpoch > 0 ? `, resuming after epoch ${e.startEpoch}` : ''),
      );
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
export async function trainRecorded(
  v: Values,
  o: {
    data: LoadedDataset;
    out: string;
    eng: { workers: number | undefined; backend: BackendName | null };
    config: Partial<TrainConfig>;
    json: boolean;
    signal: AbortSignal;
    params?: Record<string, unknown>;
  },
): Promise<RecordedTraining> {
  const runDir = path.resolve(o.out);
  const store = Store.open(dbFile(v));
  try {
    const settings = effectiveSettings(store, {
      idleSeconds: v['idle-seconds'] === undefined ? undefined : intOption(v, 'idle-seconds', 10, 0),
    });
    if (settings.idleSeconds === 0 && o.json) info('warning: idle power not measured (--idle-seconds 0)');
    return await recordTrainingRun({
      store,
      settings,
      signal: o.signal,
      params: { ...o.params, dataset: o.data.info.id, workers: o.eng.workers ?? null, ...o.config },
      runDir,
      onInfo: (l) => (o.json ? undefined : info(l)),
      work: (onEvent) =>
        train({
          runDir,
          data: o.data,
          workers: o.eng.workers,
          backend: o.eng.backend,
          signal: o.signal,
          onEvent,
          config: o.config,
        }),
      onEvent: trainReporter(o.json),
    });
  } finally {
    store.close();
  }
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

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a ResNet from scratch (checkpoints every epoch; resumes)',
  usage: `Usage: decomposer train --dataset NAME [options]

Trains ResNet v1 (depth 6n+2) from scratch, keeping a checkpoint every epoch and the
best-validation one. Run the same command again to resume a killed or cancelled run.

  -d, --dataset NAME  ${DATASET_HELP}
  --size N            input size for embedded, folder and MNIST-family datasets: 32 (default) or 64
  --fit pad|resize    MNIST family: 28x28 grey images centred on a black canvas of --size (pad,
                      the default) or scaled to it (resize); recorded with the model
  --depth N           ResNet depth 6n+2: 20 (default), 32, 56, ...
  -e, --epochs N      epochs (default ${DEFAULT_TRAIN.epochs})
  --batch N           batch size (default ${DEFAULT_TRAIN.batchSize})
  --seed N            seed for initialisation, shuffling, augmentation and the split (default 1)
  --lr X              Adam learning rate (default ${DEFAULT_TRAIN.learningRate})
  --val X             validation fraction of the training set (default ${DEFAULT_TRAIN.valFraction})
  --no-augment        no pad-and-crop / flip augmentation
  --batch-norm        add batch normalisation (the paper trains without it)
  -o, --out DIR       run folder (default: <home>/runs/<dataset>-r<depth>-s<seed>)
${ENERGY_USAGE}
${ENGINE_USAGE}`,
  options: TRAIN_OPTIONS,
  async run(v) {
    const json = Boolean(v.json);
    const eng = engineSettings(v);
    const seed = intOption(v, 'seed', DEFAULT_TRAIN.seed);
    const size = intOption(v, 'size', 32, 8);
    const depth = intOption(v, 'depth', DEFAULT_TRAIN.depth, 8);
    const datasetArg = (v.dataset as string | undefined) ?? 'shapes';
    const fit = v.fit as string | undefined;
    if (fit !== undefined && fit !== 'pad' && fit !== 'resize')
      throw new UserError(
        `--fit must be pad or resize, not "${fit}".`,
        'Use --fit pad or --fit resize.',
        'usage',
      );
    const data = await loadDatasetWithProgress(datasetArg, size, seed, eng.home, json, fit);
    const out =
      (v.out as string | undefined) ?? path.join(runsDir(eng.home), `${data.info.id}-r${depth}-s${seed}`);
    const config = {
      depth,
      epochs: intOption(v, 'epochs', DEFAULT_TRAIN.epochs, 1),
      batchSize: intOption(v, 'batch', DEFAULT_TRAIN.batchSize, 1),
      seed,
      learningRate: numberOption(v, 'lr', DEFAULT_TRAIN.learningRate),
      valFraction: numberOption(v, 'val', DEFAULT_TRAIN.valFraction),
      augment: !v['no-augment'],
      batchNorm: Boolean(v['batch-norm']),
    };
    const rec = await trainRecorded(v, { data, out, eng, config, json, signal: interruptSignal() });
    const r = rec.result;
    const summary = {
      backend: r.backend,
      backend_detail: r.backendDetail,
      engines: { training: `tfjs-${r.backend}`, evaluation: r.evalEngine },
      status: r.status,
      run: path.resolve(out),
      model_dir: r.modelDir,
      model: modelSummary(r, data.info.name, data.info.classNames.length, depth),
      run_id: rec.runId,
      energy: rec.energy.energy,
      energy_fixed_epochs: rec.energy.fixedEpochs,
      energy_until_best: rec.energy.untilBest,
    };
    if (json) printJson(summary);
    else {
      info(
        r.status === 'cancelled'
          ? `cancelled after epoch ${r.epochsDone}; finished epochs are kept in ${out}`
          : `done in ${fmtSeconds(r.seconds)}`,
      );
      if (r.modelDir)
        info(
          `best epoch ${r.bestEpoch}: test top-1 ${fmtPct(r.top1)}, top-5 ${fmtPct(r.top5)}; model saved in ${r.modelDir}`,
        );
      printEnergy(rec.runId, rec.energy);
    }
    return r.status === 'cancelled' ? EXIT.cancelled : EXIT.ok;
  },
};
