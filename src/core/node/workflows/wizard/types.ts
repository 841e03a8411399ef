// The shapes of a repair-wizard session: what it repairs (spec), how its runs are recorded
// (context), and the comparison it gives back (one row per option).
import type { BackendName } from '../../../common/api.ts';
import type { LoadedDataset } from '../../../common/dataset.ts';
import type { Approach, ModuleSet } from '../../decompose/decompose.ts';
import type { IdlePowers } from '../../energy/formula.ts';
import type { InferenceEngine } from '../../inference/types.ts';
import type { TrainingProgress } from '../../measure/measured.ts';
import type { Settings } from '../../store/settings.ts';
import type { Store } from '../../store/store.ts';
import type { Recommendation } from '../../wizard/analysis.ts';
import type { RepairedRecipe } from '../../wizard/repaired.ts';
import type { Cost } from '../costs.ts';

export interface WizardSpec {
  /** The faulty model's folder, and the data it is judged on (test) and decomposed on (train). */
  model: string;
  data: LoadedDataset;
  /** Default: the most-confused pair of the model on the test set. */
  faulty?: number;
  victim?: number;
  options: number[];
  /** Option 1: a better model of the same classes, or train one (same architecture, longer). */
  better?: string | null;
  trainBetter?: { epochs: number; data?: LoadedDataset } | null;
  decompose: { perClass: number; approach?: Approach };
  /** Option 2's two-class model. */
  pairTrain: { depth: number; epochs: number; batchSize: number };
  seed: number;
  inference?: 'auto' | 'onnxruntime' | 'tfjs';
}

export interface WizardContext {
  store: Store;
  settings: Settings;
  /** Where trained models (better, pair) go. */
  workDir: string;
  idle?: IdlePowers;
  workers?: number;
  backend?: BackendName | null;
  signal?: AbortSignal;
  onInfo?: (line: string) => void;
  /** The progress of the models the wizard trains (option 1's better model, option 2's pair model). */
  onTraining?: TrainingProgress;
  /** The experiment the session's runs belong to (none: a new wizard experiment). */
  experimentId?: number;
}

export interface Accuracy {
  top1: number;
  top5: number;
  confusion: number;
  other_top1: number;
}

export interface OptionRow extends Accuracy {
  option: number;
  label: string;
  co2e_lbs: number;
  seconds: number;
  cost: { train: Cost; decompose: Cost; run: Cost; total: Cost };
  run_id: number | null;
  note?: string;
}

export interface WizardResult {
  classes: string[];
  faulty: { index: number; name: string };
  victim: { index: number; name: string };
  suggested: { faulty: number; victim: number; rate: number };
  confusion_matrix: number[][];
  initial: Accuracy;
  composed: Accuracy;
  decomposition: Cost;
  options: OptionRow[];
  skipped: { option: number; reason: string }[];
  recommendation: Recommendation | null;
  test_images: number;
  model: string;
  dataset: string;
  /** Option 2/4's two-class model: its training images, of which original classes, and its test top-1 on the two. */
  pair_train?: { images: number; classes: number[]; top1: number };
}

/** The comparison, and each option's repaired classifier (ready to save). */
export interface WizardOutcome {
  result: WizardResult;
  recipes: Map<number, RepairedRecipe>;
}

/** A model the session uses, opened and decomposed, with what training and decomposing it cost. */
export interface DecomposedModel {
  dir: string;
  engine: InferenceEngine;
  set: ModuleSet;
  decompose: Cost;
  train: Cost;
}

/** The pair the session repairs and how the model does on it. */
export interface Fault {
  faulty: number;
  victim: number;
  matrix: number[][];
  suggested: { faulty: number; victim: number; rate: number };
  initial: Accuracy;
}
