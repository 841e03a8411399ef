// The fix-it wizard's four options as the paper's Figure 1 describes them (description, pros,
// cons), shared by the CLI and the app so both say the same thing.
import {
  CLASS_INDEX,
  DEPTH,
  EPOCHS,
  FAULT_FRACTION,
  FAULTY_PER_CLASS,
  SAMPLE_PER_CLASS,
  SEED,
  boundProblem,
  within,
  type Bound,
} from './bounds.ts';
import { isObj, isPathString, onlyKeys } from './rules.ts';

export const WIZARD_OPTIONS = [1, 2, 3, 4] as const;
export type WizardOption = (typeof WIZARD_OPTIONS)[number];

/** Option 2's two-class model. Measured: a ResNet-8 tells circles from rings 91.5% of the time after 4 epochs. */
export const PAIR_DEFAULTS = { depth: 8, epochs: 4 } as const;

export interface WizardOptionText {
  option: WizardOption;
  /** A few words, used in tables. */
  label: string;
  description: string;
  pros: string;
  cons: string;
}

export const WIZARD_OPTION_TEXT: Readonly<Record<WizardOption, WizardOptionText>> = {
  1: {
    option: 1,
    label: 'replace with a better model’s module',
    description:
      'Decompose the faulty model and a working model of the same classes (an existing one, or the same network trained longer), and replace the faulty class’s module with the working model’s module for that class.',
    pros: 'The module comes from a model of the same dataset, so it has what it needs to recognise and distinguish new inputs.',
    cons: 'A working model of the same classes may not exist, and training one (longer) is as costly as the original training.',
  },
  2: {
    option: 2,
    label: 'replace with a two-class model’s module',
    description:
      'Train a small model on just the two classes, check that it does not confuse them, decompose it into two modules and replace the faulty class’s module with its module.',
    pros: 'Training on two classes costs far less than training on the whole dataset.',
    cons: 'Decomposition alone does not fix the fault: it is combined with (small) training.',
  },
  3: {
    option: 3,
    label: 'remove the faulty module',
    description:
      'Decompose the faulty model and remove the faulty class’s module from the set: that class is never predicted again. No training at all.',
    pros: 'The cheapest option.',
    cons: 'The fault itself is not fixed: the faulty class is simply gone.',
  },
  4: {
    option: 4,
    label: 'verify with the two-class modules',
    description:
      'Keep the original model; whenever it predicts either class of the pair, re-decide between the two with the modules of option 2’s two-class model.',
    pros: 'Cheap, and the original model stays as it is for every other class.',
    cons: 'Every prediction of either class pays for a second check by the modules.',
  },
};

// ---- The fix-it wizard in the app (the paper's Figure 1 and Table 6) ----

/** How a model (or a saved repaired classifier) does on a dataset's test set, and its most-confused pair. */
export interface FaultView {
  dir: string;
  /** 'repaired': a classifier saved by the wizard. */
  kind: 'model' | 'repaired';
  datasetId: string;
  datasetName: string;
  classNames: string[];
  testImages: number;
  top1: number;
  top5: number;
  /** Counts: row = true class, column = predicted class. */
  matrix: number[][];
  /** The off-diagonal cell with the highest rate: that share of the victim's images is predicted as faulty. */
  suggested: { faulty: number; victim: number; rate: number };
}

/** A faulty model made from the embedded dataset: part of one class's training images labelled as a similar class. */
export interface FaultyDemoParams {
  depth?: number;
  epochs?: number;
  perClass?: number;
  /** The share of the victim's training images relabelled (default 0.6). */
  fraction?: number;
  /** Also train a clean model of the same data, to serve as option 1's better model (default true). */
  better?: boolean;
}

export interface FaultMade {
  victim: number;
  faulty: number;
  victimName: string;
  faultyName: string;
  fraction: number;
  /** How many training images were relabelled. */
  relabelled: number;
  /** The share of the victim's test images each model predicts as the faulty class: the fault, measured. */
  confusion: number;
  cleanConfusion: number | null;
}

export interface WizardParams {
  modelDir: string;
  /** The dataset to judge and decompose on (null or absent: the model's own, with true labels). */
  dataset?: string | null;
  faulty: number;
  victim: number;
  options: WizardOption[];
  /** Option 1: a better model of the same classes, or (when null) train one for betterEpochs. */
  betterModel?: string | null;
  betterEpochs?: number | null;
  /** Option 2 and 4's two-class model. */
  pairDepth: number;
  pairEpochs: number;
  /** Images per class each decomposition observes. */
  perClass: number;
  seed: number;
}

/** Fractions in [0, 1]; confusion = the victim's test images predicted as the faulty class. */
export interface WizardAccuracy {
  top1: number;
  top5: number;
  confusion: number;
  /** Top-1 on the classes other than the pair. */
  otherTop1: number;
}

export interface WizardOptionView extends WizardAccuracy {
  option: WizardOption;
  label: string;
  seconds: number;
  co2eKg: number;
  co2eLbs: number;
  /** What the option's cost is made of (seconds, kg CO2e). */
  parts: {
    train: { seconds: number; co2eKg: number };
    decompose: { seconds: number; co2eKg: number };
    run: { seconds: number; co2eKg: number };
  };
  estimated: boolean;
  note?: string;
}

export interface WizardView {
  modelDir: string;
  datasetId: string;
  classes: string[];
  faulty: { index: number; name: string };
  victim: { index: number; name: string };
  testImages: number;
  initial: WizardAccuracy;
  composed: WizardAccuracy;
  decomposition: { seconds: number; co2eKg: number; estimated: boolean };
  options: WizardOptionView[];
  skipped: { option: WizardOption; reason: string }[];
  recommendation: { option: WizardOption; reason: string } | null;
  /** Option 2/4's two-class model: its training images, the two classes, its test top-1 on them. */
  pairTrain?: { images: number; classes: number[]; top1: number };
}

export interface SaveRepairParams {
  /** The finished wizard job. */
  jobId: string;
  option: WizardOption;
  /** The folder name under the data folder's repaired/ (letters, digits, . _ -). */
  name: string;
}

/** A repaired classifier saved by the wizard: usable like a model (evaluate it with analyzeFault). */
export interface RepairedSummary {
  name: string;
  dir: string;
  createdAt: string;
  kind: 'modules' | 'verify';
  option: number | null;
  label: string | null;
  classNames: string[];
  /** The model it repairs, and the pair. */
  model: string | null;
  datasetId: string | null;
  faulty: { index: number; name: string } | null;
  victim: { index: number; name: string } | null;
  accuracy: WizardAccuracy | null;
  initial: WizardAccuracy | null;
}

// The argument checks of this feature's calls (null: fine; else what is wrong).

export function checkFaultyDemoParams(p: unknown): string | null {
  if (p === undefined || p === null) return null;
  if (!isObj(p)) return 'faulty demo parameters must be an object';
  const extra = onlyKeys(p, ['epochs', 'depth', 'perClass', 'fraction', 'better'], 'faulty demo parameters');
  if (extra) return extra;
  if (p.better !== undefined && typeof p.better !== 'boolean') return 'better must be true or false';
  const given = (what: string, b: Bound, x: unknown) => (x === undefined ? null : boundProblem(what, b, x));
  return (
    given('epochs', EPOCHS, p.epochs) ??
    given('depth', DEPTH, p.depth) ??
    given('images per class', FAULTY_PER_CLASS, p.perClass) ??
    given('the fault fraction', FAULT_FRACTION, p.fraction)
  );
}

export function checkWizardParams(p: unknown): string | null {
  if (!isObj(p)) return 'wizard parameters must be an object';
  const extra = onlyKeys(
    p,
    [
      'modelDir',
      'dataset',
      'faulty',
      'victim',
      'options',
      'betterModel',
      'betterEpochs',
      'pairDepth',
      'pairEpochs',
      'perClass',
      'seed',
    ],
    'wizard parameters',
  );
  if (extra) return extra;
  if (!isPathString(p.modelDir)) return 'modelDir must be a model folder';
  if (p.dataset != null && (typeof p.dataset !== 'string' || !p.dataset || p.dataset.length > 300))
    return 'dataset must be a dataset id';
  if (!within(CLASS_INDEX, p.faulty) || !within(CLASS_INDEX, p.victim))
    return 'faulty and victim must be class indices';
  if (p.faulty === p.victim) return 'the faulty and victim classes must differ';
  if (
    !Array.isArray(p.options) ||
    !p.options.length ||
    !p.options.every((o) => WIZARD_OPTIONS.includes(o as WizardOption)) ||
    new Set(p.options).size !== p.options.length
  )
    return 'options must be one or more of 1, 2, 3, 4';
  if (p.betterModel != null && !isPathString(p.betterModel)) return 'betterModel must be a model folder';
  return (
    (p.betterEpochs == null ? null : boundProblem('betterEpochs', EPOCHS, p.betterEpochs)) ??
    boundProblem('pairDepth', DEPTH, p.pairDepth) ??
    boundProblem('pairEpochs', EPOCHS, p.pairEpochs) ??
    boundProblem('images per class', SAMPLE_PER_CLASS, p.perClass) ??
    boundProblem('seed', SEED, p.seed)
  );
}

export const REPAIR_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function checkSaveRepairParams(p: unknown): string | null {
  if (!isObj(p)) return 'what to save must be an object';
  const extra = onlyKeys(p, ['jobId', 'option', 'name'], 'what to save');
  if (extra) return extra;
  if (typeof p.jobId !== 'string' || !/^[\w-]{1,80}$/.test(p.jobId)) return 'jobId must be a job id';
  if (!WIZARD_OPTIONS.includes(p.option as WizardOption)) return 'option must be 1, 2, 3 or 4';
  if (typeof p.name !== 'string' || !REPAIR_NAME_RE.test(p.name))
    return 'the name may hold letters, digits, dots, dashes and underscores (at most 100)';
  return null;
}
