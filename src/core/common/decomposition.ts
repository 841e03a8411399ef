// Decomposition (the paper's Table 1): its parameters and what the page shows of it.
import { DELTA, SAMPLE_PER_CLASS, SEED, boundProblem } from './bounds.ts';
import { isObj, isPathString, onlyKeys } from './rules.ts';

export const DECOMPOSE_APPROACHES = ['CI+TI+MC', 'CI+TI+MC-BLN', 'CI+TI+MC-BLN+MC-BI'] as const;

export type DecomposeApproach = (typeof DECOMPOSE_APPROACHES)[number];

export interface DecomposeParams {
  /** The model's folder (ModelSummary.dir). */
  modelDir: string;
  approaches: DecomposeApproach[];
  /** MC-BLN threshold δ. */
  delta: number;
  /** Concerned training images per class observed. */
  perClass: number;
  seed: number;
  /** Where activity is observed: ReLU inputs (default) or Conv2D outputs. */
  point: 'relu' | 'conv' | 'conv-skip-add';
  /** A dataset id; null or absent: the one the model was trained on. */
  dataset?: string | null;
}

/** One module's masks, summarised per mask layer: the kept fraction of each channel (or unit). */
export interface ModuleMaskView {
  layer: string;
  /** [H, W, C] or [units]. */
  shape: number[];
  keptByChannel: number[];
}

export interface ModuleView {
  classIndex: number;
  className: string;
  ji: number;
  kept: number;
  total: number;
  masks: ModuleMaskView[];
}

/** One approach's measured row of Table 1 (decompose/experiment.ts measures it). */
export interface Table1Row {
  approach: string;
  top1: number;
  top5: number;
  /** Mean over modules of |kept| / |all| positions: each module against the model. */
  ji: number;
  /** Mean over pairs of modules of the Jaccard index of their kept positions. */
  jiModules: number;
  /** Decomposition seconds (the shared observation pass plus this approach's own work). */
  seconds: number;
  evalSeconds: number;
}

export interface Table1View {
  modelDir: string;
  datasetId: string;
  testImages: number;
  model: { top1: number; top5: number; evalSeconds: number };
  rows: (Table1Row & {
    /** Where the module set was saved. */
    dir: string | null;
    modules: ModuleView[];
  })[];
  warnings: string[];
}

export interface ModuleSetSummary {
  runId: string;
  dir: string;
  createdAt: string;
  approach: string;
  /** The observation point (relu, conv or conv-skip-add). */
  point: string;
  modules: number;
  meanJi: number;
}

/** A module set exported as portable ONNX models (decompose --export-onnx). */
export interface PortableExportView {
  dir: string;
  modules: { classIndex: number; className: string; file: string; bytes: number }[];
  composed: { file: string; bytes: number; classes: string[] };
}

// The argument checks of this feature's calls (null: fine; else what is wrong).

export function checkDecomposeParams(p: unknown): string | null {
  if (!isObj(p)) return 'decomposition parameters must be an object';
  const extra = onlyKeys(
    p,
    ['modelDir', 'approaches', 'delta', 'perClass', 'seed', 'point', 'dataset'],
    'decomposition parameters',
  );
  if (extra) return extra;
  if (!isPathString(p.modelDir)) return 'modelDir must be a model folder';
  if (
    !Array.isArray(p.approaches) ||
    p.approaches.length < 1 ||
    p.approaches.length > DECOMPOSE_APPROACHES.length ||
    !p.approaches.every((a) => DECOMPOSE_APPROACHES.includes(a as DecomposeApproach)) ||
    new Set(p.approaches).size !== p.approaches.length
  )
    return `approaches must be one or more of ${DECOMPOSE_APPROACHES.join(', ')}`;
  const bad =
    boundProblem('δ', DELTA, p.delta) ??
    boundProblem('images per class', SAMPLE_PER_CLASS, p.perClass) ??
    boundProblem('seed', SEED, p.seed);
  if (bad) return bad;
  if (p.point !== 'relu' && p.point !== 'conv' && p.point !== 'conv-skip-add')
    return 'the observation point must be relu, conv or conv-skip-add';
  if (p.dataset != null && (typeof p.dataset !== 'string' || !p.dataset || p.dataset.length > 300))
    return 'dataset must be a dataset id';
  return null;
}
