// Dataset arguments: "shapes" or "textures" (embedded), "cifar10:PATH", "cifar100:PATH",
// "tinyimagenet:PATH", "folder:PATH", and "A+B+..." for one dataset made of several (the
// classes of A, then those of B, ...), e.g. tinyimagenet:PATH+folder:PATH.
import type { DatasetSpec } from '../core/common/dataset.ts';
import { UserError } from '../core/common/errors.ts';
import { combineSpecs, type PartSpec } from '../core/node/data/combined.ts';

export const DATASET_HELP =
  'shapes | textures (embedded, offline) | cifar10:PATH | cifar100:PATH | tinyimagenet:PATH | folder:PATH | ' +
  'A+B+... (one dataset with the classes of each part in order, e.g. tinyimagenet:PATH+folder:PATH; ' +
  'a folder part takes the size of the tinyimagenet (64) or cifar (32) part; ' +
  "a '+' right before a dataset name such as 'folder:' always separates parts, so a path containing '+folder:' cannot be used)";

const NAMES = [
  'shapes',
  'textures',
  'synthetic',
  'cifar10',
  'cifar100',
  'tinyimagenet',
  'imagenet200',
  'folder',
];

/** '+' followed by a dataset name (and ':', another '+', or the end) separates parts. */
const SEPARATOR = new RegExp(`\\+(?=(?:${NAMES.join('|')})(?::|\\+|$))`);

export function parseDatasetArg(arg: string, size: number, seed: number): DatasetSpec {
  const pieces = arg.split(SEPARATOR);
  if (pieces.length === 1) return parseOne(arg, size, seed);
  // Folder parts are resized to the size of the first part whose size is fixed, so that
  // tinyimagenet:PATH+folder:PATH gives 64x64 images without --size 64.
  const [main, ...extras] = pieces.map((p) => parseOne(p, size, seed));
  return combineSpecs(main!, extras, size);
}

function parseOne(arg: string, size: number, seed: number): PartSpec {
  const i = arg.indexOf(':');
  const kind = i < 0 ? arg : arg.slice(0, i);
  const p = i < 0 ? '' : arg.slice(i + 1);
  if (kind === 'shapes' || kind === 'textures' || kind === 'synthetic') {
    if (size !== 32 && size !== 64)
      throw new UserError(
        `The embedded datasets come in 32x32 and 64x64, not ${size}.`,
        'Use --size 32 or --size 64.',
        'bad-size',
      );
    return { kind: 'synthetic', name: kind === 'textures' ? 'textures' : 'shapes', size, seed };
  }
  if (!p)
    throw new UserError(
      `Dataset "${arg}" needs a path.`,
      `Write it as ${kind}:PATH (${DATASET_HELP}).`,
      'bad-dataset',
    );
  switch (kind) {
    case 'cifar10':
      return { kind: 'cifar10', path: p };
    case 'cifar100':
      return { kind: 'cifar100', path: p };
    case 'tinyimagenet':
    case 'imagenet200':
      return { kind: 'tinyimagenet', path: p };
    case 'folder':
      return { kind: 'folder', path: p, size, seed };
    default:
      throw new UserError(`Unknown dataset "${arg}".`, `Use one of: ${DATASET_HELP}.`, 'bad-dataset');
  }
}
