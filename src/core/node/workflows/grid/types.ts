// The shapes of a reuse or replace grid: what it runs on (models, spec), how its runs are
// recorded (context), and what it gives back (one row per scenario).
import type { BackendName } from '../../../common/api.ts';
import type { LoadedDataset } from '../../../common/dataset.ts';
import type { BlnRule } from '../../decompose/algorithms.ts';
import type { Approach, DecompositionPoint } from '../../decompose/decompose.ts';
import type { MeasureContext } from '../../measure/measured.ts';
import type { Scenario } from '../../reuse/scenario.ts';
import type { Cost } from '../costs.ts';

export interface GridModel {
  /** The trained model's folder (model.json). */
  dir: string;
  /** The dataset it was trained on. */
  data: LoadedDataset;
}

export interface GridSpec {
  kind: 'reuse' | 'replace';
  /** Which scenarios: intra (one dataset) and/or inter (two datasets). */
  scopes: ('intra' | 'inter')[];
  seed: number;
  /** Intra reuse: classes picked at random, composed pairwise (paper: 4, so 6 pairs). */
  pick: number;
  /** Inter reuse pairs, inter replace count. */
  pairs: number;
  /** Intra replace: the classes whose module is replaced (default all). */
  replaceClasses?: number[];
  approach: Approach;
  decompose: { perClass: number; point: DecompositionPoint; delta: number; rule: BlnRule };
  /**
   * Each baseline trains from scratch until its validation accuracy has not improved for
   * `patience` epochs, at most `epochs` (the paper keeps the best-validation model).
   */
  baseline: {
    epochs: number;
    patience: number;
    /** The ResNet's depth, unless `architecture` names an imported model whose architecture trains. */
    depth: number;
    batchSize: number;
    architecture?: string;
  };
  /** Inference engine for the reuse side (put both sides on tfjs with 'tfjs'). */
  inference: 'auto' | 'onnxruntime' | 'tfjs';
}

export interface ScenarioRow {
  scenario: 'reuse' | 'replace';
  kind: 'intra' | 'inter';
  key: string;
  classes: string[];
  /** Reuse: composed top-1 of the modules on the scenario's test images. */
  ma?: number;
  /** Inter reuse: the same with the continuously learned modules. */
  mma?: number;
  /** Replace: composed top-1/top-5 over all classes, and the trained model's own. */
  top1?: number;
  top5?: number;
  model_top1?: number;
  model_top5?: number;
  /** The baseline trained from scratch on the same classes: top-1 on the same test images. */
  tma: number;
  test_images: number;
  cost: {
    decomposition: Cost;
    build: Cost;
    predict: Cost;
    baseline_fixed: Cost;
    baseline_best: Cost;
    baseline_predict: Cost;
  };
  /** Baseline CO2e over reuse CO2e: fixed epochs / until the best epoch, without and with the one-time decomposition. */
  co2e_ratio_fixed: number | null;
  co2e_ratio_best: number | null;
  co2e_ratio_fixed_with_decomposition: number | null;
  co2e_ratio_best_with_decomposition: number | null;
  engines: { reuse: string; baseline: string };
  run_ids: { scenario: number | null; baseline: number | null };
  /** The baseline's best validation epoch, and whether it had stopped improving (absent in rows of older versions). */
  baseline_best_epoch?: number;
  baseline_converged?: boolean;
}

/** Where and how a grid's runs are recorded; `onTraining` sees its baselines train. */
export interface GridContext extends MeasureContext {
  /** Where baselines train and module sets are kept. */
  workDir: string;
  workers?: number;
  backend?: BackendName | null;
  onRow?: (row: ScenarioRow) => void;
  /**
   * Baselines known already, by the scenario images' key: a model trained from scratch on
   * exactly those classes (the demo's own model for a full-dataset replace).
   */
  knownBaselines?: Map<string, BaselineResult>;
  /** Run exactly these scenarios instead of the spec's grid (one user-built scenario). */
  scenarios?: Scenario[];
  /**
   * The experiment the grid's runs belong to (a demo, a custom scenario). Without one, a new
   * grid is an experiment of its own, and a resumed grid continues the one it was first run in.
   */
  experimentId?: number;
}

export interface BaselineResult {
  tma: number;
  fixed: Cost;
  best: Cost;
  predict: Cost;
  engine: string;
  runId: number | null;
  bestEpoch?: number;
  converged?: boolean;
}

export interface GridResult {
  id: string;
  rows: ScenarioRow[];
  resumed: number;
}
