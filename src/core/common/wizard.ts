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
} from './bounds.ts';
import { DATASET_ID, JOB_ID, PATH, someOf, v, fields } from './schema.ts';

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
export const FAULTY_DEMO_PARAMS = fields({
  depth: v.optional(DEPTH.schema),
  epochs: v.optional(EPOCHS.schema),
  perClass: v.optional(FAULTY_PER_CLASS.schema),
  /** The share of the victim's training images relabelled (default 0.6). */
  fraction: v.optional(FAULT_FRACTION.schema),
  /** Also train a clean model of the same data, to serve as option 1's better model (default true). */
  better: v.optional(v.boolean('must be true or false')),
});

export type FaultyDemoParams = v.InferOutput<typeof FAULTY_DEMO_PARAMS>;

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

const OPTIONS_RULE = `must be one or more of ${WIZARD_OPTIONS.join(', ')}`;

const WIZARD_FIELDS = fields({
  modelDir: PATH,
  /** The dataset to judge and decompose on (null or absent: the model's own, with true labels). */
  dataset: v.nullish(DATASET_ID),
  faulty: CLASS_INDEX.schema,
  victim: CLASS_INDEX.schema,
  options: someOf(WIZARD_OPTIONS, OPTIONS_RULE),
  /** Option 1: a better model of the same classes, or (when null) train one for betterEpochs. */
  betterModel: v.nullish(PATH),
  betterEpochs: v.nullish(EPOCHS.schema),
  /** Option 2 and 4's two-class model. */
  pairDepth: DEPTH.schema,
  pairEpochs: EPOCHS.schema,
  /** Images per class each decomposition observes. */
  perClass: SAMPLE_PER_CLASS.schema,
  seed: SEED.schema,
});

type WizardFields = v.InferOutput<typeof WIZARD_FIELDS>;

export const WIZARD_PARAMS = v.pipe(
  WIZARD_FIELDS,
  v.forward<WizardFields, v.CheckIssue<WizardFields>, ['victim']>(
    v.check((p) => p.faulty !== p.victim, 'must differ from the faulty class'),
    ['victim'],
  ),
);

export type WizardParams = v.InferOutput<typeof WIZARD_PARAMS>;

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

export const REPAIR_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export const SAVE_REPAIR_PARAMS = fields({
  /** The finished wizard job. */
  jobId: JOB_ID,
  option: v.picklist(WIZARD_OPTIONS, `must be ${WIZARD_OPTIONS.join(', ')}`),
  /** The folder name under the data folder's repaired/ (letters, digits, . _ -). */
  name: v.pipe(
    v.string(),
    v.regex(REPAIR_NAME_RE, 'may hold letters, digits, dots, dashes and underscores (at most 100)'),
  ),
});

export type SaveRepairParams = v.InferOutput<typeof SAVE_REPAIR_PARAMS>;

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
