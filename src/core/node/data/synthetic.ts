// The embedded synthetic datasets: generated from a seed, no download, 32x32 or 64x64 RGB.
//
// 'shapes'   - one large foreground shape per image (10 classes) at a random position, scale,
//              aspect and rotation, in a random colour, over a random gradient background
//              with clutter (line segments, blobs, sometimes a small distractor shape of
//              another class), sometimes partly occluded, plus per-pixel Gaussian noise.
//              Two classes are deliberately similar: a 5-point and a 6-point star
//              (`confusablePair('shapes')`).
// 'textures' - a full-image periodic or stochastic texture (10 classes) with random period,
//              orientation, phase, colour pair and contrast, plus clutter and noise. Waves and
//              zigzags are the similar pair (`confusablePair('textures')`).
//
// Everything is rasterised by hand into Float32 scratch buffers (2x2 supersampling for
// anti-aliasing) and quantised into the NHWC Uint8Array. Each image has its own generator
// derived from (seed, split, index), so the bytes depend only on the seed and the counts.
// The raster is synthetic-raster.ts; each dataset's images are drawn by synthetic-shapes.ts
// and synthetic-textures.ts; this file generates the splits.

import type { DatasetInfo, ImageSet, LoadedDataset, Progress, SyntheticName } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { Rng } from './random.ts';
import { imageSetBuffer } from './image-set.ts';
import { quantise, type Canvas } from './synthetic-raster.ts';
import { renderShape, SHAPE_CLASSES } from './synthetic-shapes.ts';
import { renderTexture, TEXTURE_CLASSES } from './synthetic-textures.ts';

export { SHAPE_CLASSES, TEXTURE_CLASSES };

export const SYNTHETIC_NAMES: readonly SyntheticName[] = ['shapes', 'textures'];

export const SYNTHETIC_DEFAULTS = { seed: 1, trainPerClass: 500, testPerClass: 100 } as const;

export function syntheticClassNames(name: SyntheticName): string[] {
  return name === 'shapes' ? [...SHAPE_CLASSES] : [...TEXTURE_CLASSES];
}

/** The two class indices of a dataset that are deliberately hard to tell apart. */
export function confusablePair(name: SyntheticName): [number, number] {
  if (name === 'shapes') return [SHAPE_CLASSES.indexOf('star-5'), SHAPE_CLASSES.indexOf('star-6')];
  return [TEXTURE_CLASSES.indexOf('waves'), TEXTURE_CLASSES.indexOf('zigzag')];
}

export interface SyntheticOptions {
  seed?: number;
  trainPerClass?: number;
  testPerClass?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

function checkCount(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 100000) {
    throw new UserError(
      `${what} must be a whole number from 0 to 100000 (got ${v}).`,
      'Choose a smaller or whole count.',
      'bad-spec',
    );
  }
  return v;
}

function generateSplit(
  name: SyntheticName,
  size: number,
  seed: number,
  split: number,
  perClass: number,
  opts: SyntheticOptions,
  done: { n: number; total: number },
): ImageSet {
  const classes = name === 'shapes' ? SHAPE_CLASSES.length : TEXTURE_CLASSES.length;
  const count = perClass * classes;
  const pixels = size * size * 3;
  const images = imageSetBuffer(count, size, `The synthetic ${name} dataset`);
  const labels = new Int32Array(count);
  const cv: Canvas = { size, px: new Float32Array(pixels) };
  const render = name === 'shapes' ? renderShape : renderTexture;
  for (let i = 0; i < count; i++) {
    if ((i & 255) === 0) {
      opts.signal?.throwIfAborted();
      opts.onProgress?.({ stage: 'Generating images', fraction: done.n / done.total });
    }
    const cls = i % classes;
    // One generator per image: independent of the order and of the other split's size.
    const rng = new Rng(((seed >>> 0) * 4 + split) * 1048576 + i);
    const sigma = render(cv, rng, cls);
    quantise(cv, rng, sigma, images, i * pixels);
    labels[i] = cls;
    done.n++;
  }
  return { images, labels, count, size };
}

export function syntheticId(
  name: SyntheticName,
  size: number,
  seed: number,
  trainPerClass: number,
  testPerClass: number,
): string {
  return `synthetic-${name}-${size}-s${seed}-${trainPerClass}x${testPerClass}`;
}

export function generateSynthetic(
  name: SyntheticName,
  size: 32 | 64,
  opts: SyntheticOptions = {},
): LoadedDataset {
  if (name !== 'shapes' && name !== 'textures') {
    throw new UserError(
      `There is no embedded dataset called "${String(name)}".`,
      'Choose "shapes" or "textures".',
      'bad-spec',
    );
  }
  if (size !== 32 && size !== 64) {
    throw new UserError(
      `The embedded datasets come in 32x32 and 64x64, not ${String(size)}.`,
      'Choose size 32 or 64.',
      'bad-spec',
    );
  }
  const seed = opts.seed ?? SYNTHETIC_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new UserError(
      `The seed must be a whole number from 0 to 4294967295 (got ${seed}).`,
      'Choose another seed.',
      'bad-spec',
    );
  }
  const trainPer = checkCount('trainPerClass', opts.trainPerClass ?? SYNTHETIC_DEFAULTS.trainPerClass);
  const testPer = checkCount('testPerClass', opts.testPerClass ?? SYNTHETIC_DEFAULTS.testPerClass);
  const classNames = syntheticClassNames(name);
  const done = { n: 0, total: Math.max(1, (trainPer + testPer) * classNames.length) };
  const train = generateSplit(name, size, seed, 0, trainPer, opts, done);
  const test = generateSplit(name, size, seed, 1, testPer, opts, done);
  opts.onProgress?.({ stage: 'Generating images', fraction: 1 });
  const info: DatasetInfo = {
    id: syntheticId(name, size, seed, trainPer, testPer),
    kind: 'synthetic',
    name: `${name} ${size}x${size}`,
    imageSize: size,
    classNames,
    trainCount: train.count,
    testCount: test.count,
    source: `embedded (seed ${seed})`,
  };
  return { info, train, test };
}
