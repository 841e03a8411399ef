// Training from scratch and the demo: their parameters, and the trained models listed.
import { BATCH_SIZE, DEPTH, EPOCHS, SEED, TRAIN_PER_CLASS, boundProblem } from './bounds.ts';
import { isObj, onlyKeys } from './rules.ts';
import type { EnergyFigure } from './energy.ts';
import type { JobStatus } from './jobs.ts';

export interface TrainParams {
  /** A dataset id from listDatasets. */
  dataset: string;
  /** ResNet depth 6n+2 (8, 14, 20, 32, 56). */
  depth: number;
  epochs: number;
  seed: number;
  augment: boolean;
  /** Embedded datasets only: training images per class (null: the dataset's default). */
  perClass?: number | null;
  batchSize?: number | null;
}

export interface DemoParams {
  epochs?: number;
  depth?: number;
  perClass?: number;
  /** Go on to the reuse and replace scenarios with their baselines (default true). */
  scenarios?: boolean;
  /** A dataset id from listDatasets instead of the embedded shapes (its training cut to perClass per class). */
  dataset?: string;
}

/** A trained model: one per model folder, as its latest training run left it. */
export interface ModelSummary {
  runId: number;
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
}

// The argument checks of this feature's calls (null: fine; else what is wrong).

export function checkTrainParams(p: unknown): string | null {
  if (!isObj(p)) return 'training parameters must be an object';
  const extra = onlyKeys(
    p,
    ['dataset', 'depth', 'epochs', 'seed', 'augment', 'perClass', 'batchSize'],
    'training parameters',
  );
  if (extra) return extra;
  if (typeof p.dataset !== 'string' || !p.dataset || p.dataset.length > 300)
    return 'dataset must be a dataset id';
  if (typeof p.augment !== 'boolean') return 'augment must be true or false';
  return (
    boundProblem('depth', DEPTH, p.depth) ??
    boundProblem('epochs', EPOCHS, p.epochs) ??
    boundProblem('seed', SEED, p.seed) ??
    (p.perClass == null ? null : boundProblem('images per class', TRAIN_PER_CLASS, p.perClass)) ??
    (p.batchSize == null ? null : boundProblem('batch size', BATCH_SIZE, p.batchSize))
  );
}

export function checkDemoParams(p: unknown): string | null {
  if (p === undefined || p === null) return null;
  if (!isObj(p)) return 'demo parameters must be an object';
  const extra = onlyKeys(p, ['epochs', 'depth', 'perClass', 'scenarios', 'dataset'], 'demo parameters');
  if (extra) return extra;
  if (p.dataset !== undefined && (typeof p.dataset !== 'string' || !p.dataset || p.dataset.length > 300))
    return 'the dataset must be a dataset id';
  if (p.scenarios !== undefined && typeof p.scenarios !== 'boolean') return 'scenarios must be true or false';
  return (
    (p.epochs === undefined ? null : boundProblem('epochs', EPOCHS, p.epochs)) ??
    (p.depth === undefined ? null : boundProblem('depth', DEPTH, p.depth)) ??
    (p.perClass === undefined ? null : boundProblem('images per class', TRAIN_PER_CLASS, p.perClass))
  );
}
