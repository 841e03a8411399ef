// Decomposition (the paper's Table 1): its parameters and what the page shows of it.

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

export interface Table1View {
  modelDir: string;
  datasetId: string;
  testImages: number;
  model: { top1: number; top5: number; evalSeconds: number };
  rows: {
    approach: string;
    top1: number;
    top5: number;
    /** Mean over modules of |kept| / |all| positions (each module against the model). */
    ji: number;
    /** Mean over pairs of modules of the Jaccard index of their kept positions. */
    jiModules: number;
    seconds: number;
    evalSeconds: number;
    /** Where the module set was saved. */
    dir: string | null;
    modules: ModuleView[];
  }[];
  warnings: string[];
}

export interface ModuleSetSummary {
  runId: string;
  dir: string;
  createdAt: string;
  approach: string;
  modules: number;
  meanJi: number;
}
