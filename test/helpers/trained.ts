// A ResNet-20 trained on the embedded "shapes" dataset exactly as `decomposer demo` trains
// it (500 images per class, 4 epochs, batch 32, two engine workers, so the result does not
// depend on the machine's core count: about 62% top-1 here), shared by the end-to-end tests
// of one test file (trained once per process).
import type { LoadedDataset } from '../../src/core/common/dataset.ts';
import { generateSynthetic } from '../../src/core/node/data/index.ts';
import { train, type TrainResult } from '../../src/core/node/train/trainer.ts';
import { tempDir } from './temp.ts';

export interface Trained {
  data: LoadedDataset;
  result: TrainResult;
  modelDir: string;
}

const cache = new Map<string, Promise<Trained>>();

export function trainedResNet(
  name: 'shapes' | 'textures' = 'shapes',
  opts: { depth?: number; perClass?: number; epochs?: number; seed?: number } = {},
): Promise<Trained> {
  const key = JSON.stringify([name, opts]);
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const data = generateSynthetic(name, 32, {
        trainPerClass: opts.perClass ?? 500,
        testPerClass: 100,
        seed: 1,
      });
      const runDir = tempDir(name);
      const result = await train({
        runDir,
        data,
        workers: 2,
        config: { depth: opts.depth ?? 20, epochs: opts.epochs ?? 4, batchSize: 32, seed: opts.seed ?? 1 },
      });
      return { data, result, modelDir: result.modelDir! };
    })();
    cache.set(key, p);
  }
  return p;
}
