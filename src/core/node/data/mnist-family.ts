// The MNIST family (MNIST, Fashion-MNIST, Kuzushiji-MNIST, EMNIST and its splits): what each
// is called, its classes in label order, and the defaults of how its grey images are fed.

import {
  EMNIST_SPLITS as SPLITS,
  MNIST_FAMILIES as FAMILIES,
  type DatasetSpec,
  type EmnistSplit,
  type GreyFit,
  type MnistFamily,
} from '../../common/dataset.ts';

// The lists of common/dataset.ts (the schema's), as plain lists of the family's names.
export const MNIST_FAMILIES: readonly MnistFamily[] = FAMILIES;
export const EMNIST_SPLITS: readonly EmnistSplit[] = SPLITS;

export type MnistSpec = Extract<DatasetSpec, { kind: 'mnist' }>;

export const MNIST_DEFAULTS = { size: 32, fit: 'pad' as GreyFit, split: 'balanced' as EmnistSplit };

const DIGITS = '0123456789'.split('');
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');
const LOWER = 'abcdefghijklmnopqrstuvwxyz'.split('');
// EMNIST's merged splits drop the lower-case letters whose shapes match their upper case.
const MERGED_LOWER = 'abdefghnqrt'.split('');

export const MNIST_TITLES: Record<MnistFamily, string> = {
  mnist: 'MNIST',
  'fashion-mnist': 'Fashion-MNIST',
  kmnist: 'Kuzushiji-MNIST',
  emnist: 'EMNIST',
};

/** Class names in label order, as each dataset's authors list them. */
export function mnistClassNames(family: MnistFamily, split: EmnistSplit = MNIST_DEFAULTS.split): string[] {
  switch (family) {
    case 'mnist':
      return [...DIGITS];
    case 'fashion-mnist':
      return [
        'T-shirt/top',
        'Trouser',
        'Pullover',
        'Dress',
        'Coat',
        'Sandal',
        'Shirt',
        'Sneaker',
        'Bag',
        'Ankle boot',
      ];
    case 'kmnist':
      return ['o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo'];
    case 'emnist':
      switch (split) {
        case 'byclass':
          return [...DIGITS, ...UPPER, ...LOWER];
        case 'bymerge':
        case 'balanced':
          return [...DIGITS, ...UPPER, ...MERGED_LOWER];
        case 'letters':
          // Upper and lower case in one class each.
          return UPPER.map((u, i) => `${u}/${LOWER[i]}`);
        case 'digits':
        case 'mnist':
          return [...DIGITS];
      }
  }
}

/** EMNIST letters numbers its classes from 1. */
export const labelOffset = (spec: MnistSpec): number =>
  spec.family === 'emnist' && (spec.split ?? MNIST_DEFAULTS.split) === 'letters' ? 1 : 0;

export function mnistTitle(spec: Pick<MnistSpec, 'family' | 'split'>): string {
  return spec.family === 'emnist'
    ? `EMNIST ${spec.split ?? MNIST_DEFAULTS.split}`
    : MNIST_TITLES[spec.family];
}
