// The small JSON files a training writes into its run folder and reads back, one schema each:
// config.json (what was asked; a resume must ask the same), the pointers latest.json and
// best.json, and each checkpoint's state.json. A refusal names the file, the field and the rule.
import path from 'node:path';
import { int, parseJsonWith, v } from '../../common/schema.ts';

/** A checkpoint folder's name inside the run folder. */
export const CHECKPOINT_NAME_RE = /^epoch-(\d+)$/;

const EPOCHS = int(0, 1_000_000);
/** A metric as written: a NaN loss (a diverged training) was written as null, and reads back as NaN. */
const METRIC = v.pipe(
  v.nullable(v.number()),
  v.transform((x) => x ?? NaN),
);

/** What a training asked for, as far as it tells a run folder from another (older runs wrote less). */
export const RUN_CONFIG = v.looseObject({
  datasetId: v.string(),
  classes: v.number(),
  size: v.number(),
  depth: v.number(),
  batchSize: v.number(),
  seed: v.number(),
});

export type RunConfig = v.InferOutput<typeof RUN_CONFIG>;

/** latest.json and best.json: the checkpoint they point at, always one of this run folder's. */
export const POINTER = v.object({
  epoch: v.optional(EPOCHS),
  dir: v.pipe(
    v.string(),
    v.check(
      (d) => CHECKPOINT_NAME_RE.test(path.basename(d)),
      'must name a checkpoint folder (checkpoints/epoch-NNN)',
    ),
  ),
});

/** One finished epoch, as the history of a checkpoint keeps it. */
export const EPOCH_RECORD = v.object({
  epoch: EPOCHS,
  loss: METRIC,
  accuracy: METRIC,
  valAccuracy: METRIC,
  seconds: v.number(),
  imagesPerSecond: METRIC,
});

export type EpochRecord = v.InferOutput<typeof EPOCH_RECORD>;

/** A checkpoint's state.json: the epoch it ends, every epoch's record, the best so far. */
export const CHECKPOINT_STATE = v.object({
  epoch: EPOCHS,
  history: v.array(EPOCH_RECORD),
  bestEpoch: EPOCHS,
  bestVal: v.number(),
  seconds: v.number(),
});

export type CheckpointState = v.InferOutput<typeof CHECKPOINT_STATE>;

/** A damaged file of a run folder never advises deleting the folder: its other checkpoints may be intact. */
const HINT = 'Restore it from a backup, or train into another folder (--out); the checkpoints here are kept.';

/** One of the run folder's files, read with its schema; `file` names it in a refusal. */
export function parseRunFile<S extends v.GenericSchema>(
  schema: S,
  text: string,
  file: string,
): v.InferOutput<S> {
  return parseJsonWith(schema, text, file, HINT, 'bad-run');
}
