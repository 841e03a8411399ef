// Reuse and replace scenarios (Tables 2-5, Figure 6): their parameters and result rows.
import type { DecomposeApproach } from './decomposition.ts';

/** One class of a scenario: class `classIndex` of model `source` (0: the first model, 1: the second). */
export interface ScenarioPick {
  source: number;
  classIndex: number;
}

export interface ScenarioParams {
  kind: 'reuse' | 'replace';
  /** One or two model folders. */
  models: string[];
  /** Reuse: the classes composed, in label order (at least 2). */
  classes?: ScenarioPick[];
  /** Replace: model A's class whose module is replaced, and the module that replaces it (from model B). */
  replaced?: number;
  replacement?: ScenarioPick;
  approach: DecomposeApproach;
  perClass: number;
  baselineEpochs: number;
  seed: number;
}

/** A finished scenario: accuracies (fractions) and CO2e ratios (baseline over reuse). */
export interface ScenarioView {
  scenario: 'reuse' | 'replace';
  kind: 'intra' | 'inter';
  classes: string[];
  ma?: number;
  mma?: number;
  top1?: number;
  top5?: number;
  modelTop1?: number;
  modelTop5?: number;
  tma: number;
  testImages: number;
  co2eRatioFixed: number | null;
  co2eRatioBest: number | null;
  co2eRatioFixedWithDecomposition: number | null;
  co2eRatioBestWithDecomposition: number | null;
  reuseCo2eKg: number;
  decompositionCo2eKg: number;
  baselineFixedCo2eKg: number;
  baselineBestCo2eKg: number;
  estimated: boolean;
  /** False when the baseline was still improving when it stopped (its ratio is flagged). */
  baselineConverged?: boolean;
  /** The baseline's best validation epoch. */
  baselineBestEpoch?: number;
}
