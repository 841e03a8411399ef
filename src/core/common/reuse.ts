// Reuse and replace scenarios (Tables 2-5, Figure 6): their parameters and result rows.
import { DECOMPOSE_APPROACHES } from './decomposition.ts';
import { CLASS_INDEX, EPOCHS, SAMPLE_PER_CLASS, SEED, boundProblem, within } from './bounds.ts';
import { isInt, isObj, isPathString, onlyKeys } from './rules.ts';
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

// The argument checks of this feature's calls (null: fine; else what is wrong).

export function checkPick(p: unknown, sources: number): boolean {
  return (
    isObj(p) &&
    Object.keys(p).every((k) => k === 'source' || k === 'classIndex') &&
    isInt(p.source, 0, sources - 1) &&
    within(CLASS_INDEX, p.classIndex)
  );
}

export function checkScenarioParams(p: unknown): string | null {
  if (!isObj(p)) return 'scenario parameters must be an object';
  const extra = onlyKeys(
    p,
    [
      'kind',
      'models',
      'classes',
      'replaced',
      'replacement',
      'approach',
      'perClass',
      'baselineEpochs',
      'seed',
    ],
    'scenario parameters',
  );
  if (extra) return extra;
  if (p.kind !== 'reuse' && p.kind !== 'replace') return 'kind must be reuse or replace';
  if (!Array.isArray(p.models) || p.models.length < 1 || p.models.length > 2 || !p.models.every(isPathString))
    return 'models must be one or two model folders';
  const n = p.models.length;
  if (p.kind === 'reuse') {
    if (!Array.isArray(p.classes) || p.classes.length < 2 || p.classes.length > 1000)
      return 'a reuse scenario needs at least two classes';
    if (!p.classes.every((c) => checkPick(c, n)))
      return 'each class must be {source, classIndex} of a given model';
    if (p.replaced !== undefined || p.replacement !== undefined)
      return 'a reuse scenario has no replaced class';
  } else {
    if (n !== 2) return 'a replace scenario needs two models';
    if (!within(CLASS_INDEX, p.replaced)) return 'replaced must be a class index';
    if (!checkPick(p.replacement, n) || (p.replacement as ScenarioPick).source !== 1)
      return 'the replacement must be a class of the second model';
    if (p.classes !== undefined) return 'a replace scenario takes replaced and replacement, not classes';
  }
  if (!DECOMPOSE_APPROACHES.includes(p.approach as DecomposeApproach))
    return `approach must be one of ${DECOMPOSE_APPROACHES.join(', ')}`;
  return (
    boundProblem('images per class', SAMPLE_PER_CLASS, p.perClass) ??
    boundProblem('baseline epochs', EPOCHS, p.baselineEpochs) ??
    boundProblem('seed', SEED, p.seed)
  );
}
