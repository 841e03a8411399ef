// Training from scratch and the demo: their parameters, and the trained models listed.
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
}

export interface ModelSummary {
  runId: number;
  dir: string;
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
