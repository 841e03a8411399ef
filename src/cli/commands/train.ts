// decomposer train: train a ResNet from scratch on a dataset, with checkpoints and resume.
import path from 'node:path';
import type { Command } from '../command.ts';
import { DATASET_HELP } from '../datasets.ts';
import { loadSpecWithProgress, parseDatasetOption } from '../models.ts';
import { writeTrainingsPlan } from '../cluster.ts';
import {
  listOf,
  ENERGY_OPTIONS,
  ENERGY_USAGE,
  ENGINE_OPTIONS,
  ENGINE_USAGE,
  withEngine,
  withMeasureContext,
} from '../options.ts';
import { EXIT, interruptSignal, printJson } from '../output.ts';
import { modelSummary, printTraining, runFolderIn, trainRecorded } from '../training.ts';
import { runsDir } from '../../core/node/paths.ts';
import { DEFAULT_TRAIN, trainingEngineName } from '../../core/node/train/trainer.ts';
import type { TrainParams } from '../../core/common/api.ts';
import { GREY_FITS } from '../../core/common/dataset.ts';
import { UserError } from '../../core/common/errors.ts';
import { PATH, v } from '../../core/common/schema.ts';
import type { PlannedTraining } from '../../core/node/workflows/cluster/plan.ts';
import {
  BATCH_SIZE,
  DEPTH,
  EPOCHS,
  IMAGE_SIDE,
  LEARNING_RATE,
  SEED,
  VAL_FRACTION,
} from '../../core/common/bounds.ts';

/**
 * The options of a training: the app's training parameters (the dataset as a command line
 * names it), and what only the command line sets.
 */
const TRAIN_ARGS = withEngine(
  {
    dataset: v.optional(v.string(), 'shapes'),
    size: v.optional(IMAGE_SIDE.text, 32),
    fit: v.optional(v.picklist(GREY_FITS, 'must be pad or resize')),
    depth: v.optional(listOf(DEPTH.text), String(DEFAULT_TRAIN.depth)),
    epochs: v.optional(EPOCHS.text, DEFAULT_TRAIN.epochs),
    batch: v.optional(BATCH_SIZE.text, DEFAULT_TRAIN.batchSize),
    seed: v.optional(listOf(SEED.text), String(DEFAULT_TRAIN.seed)),
    lr: v.optional(LEARNING_RATE.text, DEFAULT_TRAIN.learningRate),
    val: v.optional(VAL_FRACTION.text, DEFAULT_TRAIN.valFraction),
    'no-augment': v.optional(v.boolean(), false),
    'batch-norm': v.optional(v.boolean(), false),
    out: v.optional(PATH),
    plan: v.optional(PATH),
  },
  (o) => ({
    params: {
      dataset: o.dataset,
      depth: o.depth[0]!,
      epochs: o.epochs,
      seed: o.seed[0]!,
      augment: !o['no-augment'],
      batchSize: o.batch,
    } satisfies TrainParams,
    size: o.size,
    fit: o.fit,
    learningRate: o.lr,
    valFraction: o.val,
    batchNorm: o['batch-norm'],
    out: o.out,
    plan: o.plan,
    depths: o.depth,
    seeds: o.seed,
  }),
);

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
  plan: { type: 'string' },
  ...ENGINE_OPTIONS,
  ...ENERGY_OPTIONS,
} as const;

type TrainArgs = v.InferOutput<typeof TRAIN_ARGS>;

/** train … --plan FILE: every dataset, depth and seed given, as one training task each. */
function planTrainings(o: TrainArgs, file: string): Promise<number> {
  const trainings: PlannedTraining[] = [];
  for (const dataset of o.params.dataset.split(',').map((d) => d.trim()))
    for (const depth of o.depths)
      for (const seed of o.seeds) {
        // Each dataset named is checked here, before the plan is written.
        parseDatasetOption(dataset, o.size, seed, o.engine.home, o.fit);
        trainings.push({
          dataset,
          size: o.size,
          fit: o.fit ?? null,
          depth,
          epochs: o.params.epochs,
          batchSize: o.params.batchSize,
          seed,
          learningRate: o.learningRate,
          valFraction: o.valFraction,
          augment: o.params.augment,
          batchNorm: o.batchNorm,
          parent: o.out ? path.resolve(o.out) : null,
        });
      }
  return withMeasureContext(o.store, {}, (ctx) => writeTrainingsPlan(file, trainings, ctx.settings, o.json));
}

export const trainCommand: Command<TrainArgs> = {
  name: 'train',
  summary: 'train a ResNet from scratch (checkpoints every epoch; resumes)',
  usage: `Usage: decomposer train --dataset NAME [options]

Trains ResNet v1 (depth 6n+2) from scratch, keeping a checkpoint every epoch and the
best-validation one. Run the same command again to resume a killed or cancelled run.

  -d, --dataset NAME  ${DATASET_HELP}
  --size N            input size: 32 (default) or 64 for the embedded datasets, ${IMAGE_SIDE.range}
                      for folders and the MNIST family
  --fit pad|resize    MNIST family: 28x28 grey images centred on a black canvas of --size (pad,
                      the default at 32) or scaled to it (resize, the default at other sizes);
                      recorded with the model
  --depth N           ResNet depth ${DEPTH.range}; default ${DEFAULT_TRAIN.depth}
  -e, --epochs N      epochs, ${EPOCHS.range} (default ${DEFAULT_TRAIN.epochs})
  --batch N           batch size, ${BATCH_SIZE.range} (default ${DEFAULT_TRAIN.batchSize})
  --seed N            seed for initialisation, shuffling, augmentation and the split (default 1)
  --lr X              Adam learning rate, ${LEARNING_RATE.range} (default ${DEFAULT_TRAIN.learningRate})
  --val X             validation fraction of the training set, ${VAL_FRACTION.range} (default ${DEFAULT_TRAIN.valFraction})
  --no-augment        no pad-and-crop / flip augmentation
  --batch-norm        add batch normalisation (the paper trains without it)
  -o, --out DIR       run folder (default: <home>/runs/<dataset id>-r<depth>-s<seed>, the dataset
                      id naming the dataset, its size and, for files, a hash of their path:
                      synthetic-shapes-32-s1-500x100-r20-s1, mnist-fashion-mnist-pad32-<hash>-r20-s1)
  --plan FILE         write the trainings as a plan of tasks for a cluster and train nothing:
                      --dataset A,B,… --depth 20,32,56 --seed 1,2 give one task per
                      combination (with --out DIR, their run folders go in DIR); run them with
                      decomposer task or submit, and merge their shards
${ENERGY_USAGE}
${ENGINE_USAGE}`,
  options: TRAIN_OPTIONS,
  args: TRAIN_ARGS,
  async run(o) {
    // Every argument was checked before the dataset is read, idle power measured, a run
    // folder made or a run recorded: a refused one costs nothing and leaves nothing.
    const { params: p, engine: eng } = o;
    if (o.plan) return planTrainings(o, o.plan);
    if (o.depths.length > 1 || o.seeds.length > 1)
      throw new UserError(
        'A list of depths or seeds trains several models.',
        'Train them one at a time, or write them as a plan for a cluster with --plan FILE.',
        'usage',
      );
    const config = {
      depth: p.depth,
      epochs: p.epochs,
      batchSize: p.batchSize,
      seed: p.seed,
      learningRate: o.learningRate,
      valFraction: o.valFraction,
      augment: p.augment,
      batchNorm: o.batchNorm,
    };
    const spec = parseDatasetOption(p.dataset, o.size, p.seed, eng.home, o.fit);
    const data = await loadSpecWithProgress(spec, eng.home);
    const out = o.out ?? runFolderIn(runsDir(eng.home), data.info.id, p.depth, p.seed);
    const rec = await withMeasureContext(o.store, { signal: interruptSignal() }, (ctx) =>
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
      model: modelSummary(r, data.info.name, data.info.classNames.length, p.depth),
      run_id: rec.runId,
      energy: rec.energy.energy,
      energy_fixed_epochs: rec.energy.fixedEpochs,
      energy_until_best: rec.energy.untilBest,
    };
    if (o.json) printJson(summary);
    else printTraining(rec, summary.model, path.resolve(out));
    return r.status === 'cancelled' ? EXIT.cancelled : EXIT.ok;
  },
};
