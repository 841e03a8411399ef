// decomposer train: train a ResNet from scratch on a dataset, with checkpoints and resume.
import path from 'node:path';
import type { Command } from '../command.ts';
import { DATASET_HELP } from '../datasets.ts';
import { loadDatasetWithProgress } from '../models.ts';
import {
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  ENGINE_USAGE,
  engineSettings,
  intOption,
  numberOption,
  withMeasureContext,
} from '../options.ts';
import { EXIT, interruptSignal, printJson } from '../output.ts';
import { modelSummary, printTraining, trainRecorded } from '../training.ts';
import { runsDir } from '../../core/node/paths.ts';
import { DEFAULT_TRAIN, trainingEngineName } from '../../core/node/train/trainer.ts';
import { UserError } from '../../core/common/errors.ts';

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

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a ResNet from scratch (checkpoints every epoch; resumes)',
  usage: `Usage: decomposer train --dataset NAME [options]

Trains ResNet v1 (depth 6n+2) from scratch, keeping a checkpoint every epoch and the
best-validation one. Run the same command again to resume a killed or cancelled run.

  -d, --dataset NAME  ${DATASET_HELP}
  --size N            input size for embedded, folder and MNIST-family datasets: 32 (default) or 64
  --fit pad|resize    MNIST family: 28x28 grey images centred on a black canvas of --size (pad,
                      the default at 32) or scaled to it (resize, the default at other sizes);
                      recorded with the model
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
    const data = await loadDatasetWithProgress(datasetArg, size, seed, eng.home, fit);
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
    const rec = await withMeasureContext(v, { signal: interruptSignal() }, (ctx) =>
      trainRecorded(ctx, { data, out, eng, config }),
    );
    const r = rec.result;
    const summary = {
      backend: r.backend,
      backend_detail: r.backendDetail,
      engines: { training: trainingEngineName(r.backend), evaluation: r.evalEngine },
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
    else printTraining(rec, summary.model, path.resolve(out));
    return r.status === 'cancelled' ? EXIT.cancelled : EXIT.ok;
  },
};
