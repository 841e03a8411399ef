// Training from scratch and the demo: their parameters (one schema each), and the trained
// models listed.
import { BATCH_SIZE, DEPTH, EPOCHS, PATIENCE, SEED, TRAIN_PER_CLASS } from './bounds.ts';
import { DATASET_ID, v, fields } from './schema.ts';
import type { EnergyFigure } from './energy.ts';
import type { JobStatus } from './jobs.ts';
import type { ModelSource } from './models.ts';

export const TRAIN_PARAMS = fields({
  /** A dataset id from listDatasets. */
  dataset: DATASET_ID,
  /** ResNet depth 6n+2 (8, 14, 20, 32, 56). */
  depth: DEPTH.schema,
  epochs: EPOCHS.schema,
  seed: SEED.schema,
  augment: v.boolean('must be true or false'),
  /** Embedded datasets only: training images per class (null: the dataset's default). */
  perClass: v.nullish(TRAIN_PER_CLASS.schema),
  batchSize: v.nullish(BATCH_SIZE.schema),
});

export type TrainParams = v.InferOutput<typeof TRAIN_PARAMS>;

export const DEMO_PARAMS = fields({
  /** The most epochs of the demo's models. */
  epochs: v.optional(EPOCHS.schema),
  /** They stop once validation accuracy has not improved for this many epochs (default: the baselinePatience setting). */
  patience: v.optional(PATIENCE.schema),
  depth: v.optional(DEPTH.schema),
  perClass: v.optional(TRAIN_PER_CLASS.schema),
  /** Go on to the reuse and replace scenarios with their baselines (default true). */
  scenarios: v.optional(v.boolean('must be true or false')),
  /** A dataset id from listDatasets instead of the embedded shapes (its training cut to perClass per class). */
  dataset: v.optional(DATASET_ID),
});

export type DemoParams = v.InferOutput<typeof DEMO_PARAMS>;

/** A model: one per model folder, as its latest training run left it, or as it was imported. */
export interface ModelSummary {
  /** Its latest training run; null for an imported model. */
  runId: number | null;
  dir: string;
  /** The dataset's name as a person reads it (the id is `datasetId`). */
  dataset: string;
  depth: number | null;
  epochs: number;
  bestEpoch: number | null;
  top1: number | null;
  top5: number | null;
  status: JobStatus;
  energy: EnergyFigure | null;
  /** From the model's meta (null when it has none). */
  classNames: string[] | null;
  inputSize: number | null;
  datasetId: string | null;
  /** Where an imported model came from (null for one trained here). */
  source: ModelSource | null;
}
