// Dataset arguments: "shapes" or "textures" (embedded), "cifar10:PATH", "cifar100:PATH",
// "tinyimagenet:PATH", "folder:PATH".
import type { DatasetSpec } from '../core/common/dataset.ts';
import { UserError } from '../core/common/errors.ts';

export const DATASET_HELP =
  'shapes | textures (embedded, offline) | cifar10:PATH | cifar100:PATH | tinyimagenet:PATH | folder:PATH';

export function parseDatasetArg(arg: string, size: number, seed: number): DatasetSpec {
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
