// Decomposition (the paper's Table 1): its parameters (one schema) and what the page shows of it.
import { DELTA, SAMPLE_PER_CLASS, SEED } from './bounds.ts';
import { DATASET_ID, PATH, someOf, v, fields } from './schema.ts';

export const DECOMPOSE_APPROACHES = ['CI+TI+MC', 'CI+TI+MC-BLN', 'CI+TI+MC-BLN+MC-BI'] as const;

export type DecomposeApproach = (typeof DECOMPOSE_APPROACHES)[number];

const SHORT_APPROACHES: Readonly<Record<string, DecomposeApproach>> = {
  MC: 'CI+TI+MC',
  BLN: 'CI+TI+MC-BLN',
  'MC-BLN': 'CI+TI+MC-BLN',
  BI: 'CI+TI+MC-BLN+MC-BI',
  'MC-BI': 'CI+TI+MC-BLN+MC-BI',
};

/** An approach by its name or short name (mc, bln, bi; any case); null when it is neither. */
export function approachFromText(text: string): DecomposeApproach | null {
  const norm = text.toUpperCase().replace(/\s+/g, '');
  if ((DECOMPOSE_APPROACHES as readonly string[]).includes(norm)) return norm as DecomposeApproach;
  return SHORT_APPROACHES[norm] ?? null;
}

/** MC-BLN's rule: the paper's prose (default) or its Algorithm 2 as printed. */
export const BLN_RULES = ['prose', 'algorithm2'] as const;
export type BlnRule = (typeof BLN_RULES)[number];

/** The inference engines a forward pass may be asked to run on (auto: the fastest that loads). */
export const INFERENCE_ENGINES = ['auto', 'onnxruntime', 'tfjs'] as const;
export const INFERENCE = v.picklist(INFERENCE_ENGINES, `must be ${INFERENCE_ENGINES.join(', ')}`);

/** Where activity is observed: ReLU inputs (default) or Conv2D outputs. */
export const DECOMPOSE_POINTS = ['relu', 'conv', 'conv-skip-add'] as const;

export const DECOMPOSE_PARAMS = fields({
  /** The model's folder (ModelSummary.dir). */
  modelDir: PATH,
  approaches: someOf(DECOMPOSE_APPROACHES, `must be one or more of ${DECOMPOSE_APPROACHES.join(', ')}`),
  /** MC-BLN threshold δ. */
  delta: DELTA.schema,
  /** Concerned training images per class observed. */
  perClass: SAMPLE_PER_CLASS.schema,
  seed: SEED.schema,
  point: v.picklist(DECOMPOSE_POINTS, `must be ${DECOMPOSE_POINTS.join(', ')}`),
  /** A dataset id; null or absent: the one the model was trained on. */
  dataset: v.nullish(DATASET_ID),
});

export type DecomposeParams = v.InferOutput<typeof DECOMPOSE_PARAMS>;

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
