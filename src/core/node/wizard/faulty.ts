// A faulty model from the embedded dataset (the paper's "person labelled as gorilla"): part of
// the victim class's TRAINING images are relabelled as the faulty class, so a model trained on
// them really swallows the victim class. Test images keep their true labels.
import type { ImageSet, LoadedDataset } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { Rng } from '../data/random.ts';
import { gatherClasses } from '../reuse/scenario.ts';

/** Fraction of the victim's training images relabelled by default. */
export const DEFAULT_FAULT_FRACTION = 0.6;

export interface RelabelResult {
  set: ImageSet;
  /** Indices (in the set) whose label changed from victim to faulty. */
  relabelled: number[];
}

/** A copy of `set` in which `fraction` of the victim's images (seeded pick) are labelled `faulty`. */
export function relabelVictim(
  set: ImageSet,
  victim: number,
  faulty: number,
  fraction = DEFAULT_FAULT_FRACTION,
  seed = 1,
): RelabelResult {
  if (victim === faulty)
    throw new UserError('The faulty and victim classes must differ.', 'Pick two classes.', 'usage');
  if (!(fraction >= 0 && fraction <= 1))
    throw new UserError(
      `The fault fraction must lie in [0, 1] (got ${fraction}).`,
      'Pick e.g. 0.6.',
      'usage',
    );
  const victims: number[] = [];
  for (let i = 0; i < set.count; i++) if (set.labels[i] === victim) victims.push(i);
  new Rng(seed ^ 0xfa017).shuffle(victims);
  const relabelled = victims.slice(0, Math.round(victims.length * fraction)).sort((a, b) => a - b);
  const labels = Int32Array.from(set.labels);
  for (const i of relabelled) labels[i] = faulty;
  return { set: { ...set, labels }, relabelled };
}

/** The dataset a faulty model trains on: training labels corrupted, test set untouched. */
export function makeFaultyDataset(
  data: LoadedDataset,
  victim: number,
  faulty: number,
  fraction = DEFAULT_FAULT_FRACTION,
  seed = 1,
): { data: LoadedDataset; relabelled: number[] } {
  const r = relabelVictim(data.train, victim, faulty, fraction, seed);
  const names = data.info.classNames;
  return {
    data: {
      info: {
        ...data.info,
        id: `${data.info.id}-fault-${victim}to${faulty}-${Math.round(fraction * 100)}`,
        name: `${data.info.name} (${Math.round(fraction * 100)}% of ${names[victim]} labelled ${names[faulty]})`,
      },
      train: r.set,
      test: data.test,
    },
    relabelled: r.relabelled,
  };
}

/**
 * Option 2's data: only the victim's and the faulty class's images, relabelled 0 (victim) and
 * 1 (faulty), from the training and the test split.
 */
export function pairDataset(data: LoadedDataset, victim: number, faulty: number): LoadedDataset {
  const picks = [
    { source: 0, classIndex: victim },
    { source: 0, classIndex: faulty },
  ];
  const train = gatherClasses([data.train], picks);
  const test = gatherClasses([data.test], picks);
  const names = data.info.classNames;
  return {
    info: {
      ...data.info,
      id: `${data.info.id}-pair-${victim}-${faulty}`,
      name: `${data.info.name}: ${names[victim]} vs ${names[faulty]}`,
      classNames: [names[victim]!, names[faulty]!],
      trainCount: train.count,
      testCount: test.count,
    },
    train,
    test,
  };
}
