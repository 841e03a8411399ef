// End to end: a small ResNet-8 trained for a few epochs on a subset of the embedded
// synthetic dataset (shapes, 32x32, 40 training images per class), decomposed with
// CI+TI+MC-BLN; the composed top-1 stays within 5 points of the model's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateSynthetic } from '../src/core/node/data/index.ts';
import { openInference, planModel } from '../src/core/node/inference/index.ts';
import { readModelDir } from '../src/core/node/models/io.ts';
import { topKAccuracy } from '../src/core/node/train/metrics.ts';
import { train } from '../src/core/node/train/trainer.ts';
import {
  composedAccuracy,
  composedScores,
  decompose,
  meanJaccard,
} from '../src/core/node/decompose/index.ts';

test('composed CI+TI+MC-BLN modules of a trained ResNet-8 stay within 5 points of the model', async () => {
  const data = generateSynthetic('shapes', 32, { trainPerClass: 40, testPerClass: 20, seed: 2 });
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'dec-e2e-'));
  const r = await train({
    runDir,
    data,
    workers: 0,
    config: { depth: 8, epochs: 3, batchSize: 32, seed: 1, augment: false, valFraction: 0.1 },
  });
  const { artifacts } = await readModelDir(r.modelDir!);
  const engine = await openInference(r.modelDir!);
  try {
    const plan = planModel(artifacts);
    const sets = await decompose(engine, plan, data.train, {
      approaches: ['CI+TI+MC', 'CI+TI+MC-BLN'],
      perClass: 40,
      seed: 1,
    });
    const probs = await engine.predict(data.test.images, data.test.count);
    const model1 = topKAccuracy(probs, data.test.labels, plan.classes, 1);
    for (const set of sets) {
      const c = await composedScores([{ engine, set }], data.test.images, data.test.count);
      const top1 = composedAccuracy(c, data.test.labels, 1);
      const ji = meanJaccard(set);
      assert.ok(ji > 0 && ji <= 1, `JI ${ji}`);
      if (set.approach === 'CI+TI+MC-BLN')
        assert.ok(top1 >= model1 - 0.05, `composed top-1 ${top1} vs model ${model1}`);
    }
  } finally {
    await engine.close();
  }
});
