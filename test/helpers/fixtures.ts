// Small in-memory datasets the tests make themselves.
import type { ImageSet, LoadedDataset } from '../../src/core/common/dataset.ts';
import { Rng } from '../../src/core/node/data/random.ts';

/** An easy task: each class has its own mean colour, plus noise. Learnable in a few steps. */
export function colourDataset(
  opts: { classes?: number; train?: number; test?: number; size?: number; seed?: number } = {},
): LoadedDataset {
  const classes = opts.classes ?? 4;
  const size = opts.size ?? 16;
  const rng = new Rng(opts.seed ?? 3);
  const per = size * size * 3;
  const make = (n: number): ImageSet => {
    const images = new Uint8Array(n * per);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % classes;
      labels[i] = c;
      for (let k = 0; k < per; k++) {
        const channel = k % 3;
        const base = ((c * (channel + 1) * 67) % 200) + 20;
        images[i * per + k] = Math.min(255, base + rng.int(40));
      }
    }
    return { images, labels, count: n, size };
  };
  const train = make(opts.train ?? 64);
  const test = make(opts.test ?? 16);
  return {
    info: {
      id: `colours-${classes}-${size}`,
      kind: 'synthetic',
      name: 'colours',
      imageSize: size,
      classNames: Array.from({ length: classes }, (_, i) => `colour-${i}`),
      trainCount: train.count,
      testCount: test.count,
      source: 'test fixture',
    },
    train,
    test,
  };
}
