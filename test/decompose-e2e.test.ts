// End to end: a ResNet-20 trained on the embedded synthetic dataset (shapes, 32x32, as the demo
// trains it: well above chance, far from perfect), decomposed
// with the default settings; the composed top-1 of CI+TI+MC-BLN stays within 5 points of
// the model's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openInference } from '../src/core/node/inference/index.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { readModelDir } from '../src/core/node/models/io.ts';
import { topKAccuracy } from '../src/core/node/train/metrics.ts';
import { trainedResNet } from './helpers/trained.ts';
import {
  composedAccuracy,
  composedScores,
  decompose,
  meanJaccard,
} from '../src/core/node/decompose/index.ts';

test('composed CI+TI+MC-BLN modules of a trained ResNet-20 stay within 5 points of the model', async () => {
  const { data, result: r } = await trainedResNet();
  const { artifacts } = await readModelDir(r.modelDir!);
  const engine = await openInference(r.modelDir!);
  try {
    const plan = planModel(artifacts);
    const sets = await decompose(engine, plan, data.train, {
      approaches: ['CI+TI+MC', 'CI+TI+MC-BLN'],
      perClass: 500,
      seed: 1,
    });
    const probs = await engine.predict(data.test.images, data.test.count);
    const model1 = topKAccuracy(probs, data.test.labels, plan.classes, 1);
    assert.ok(model1 >= 0.3, `the model learned the task (top-1 ${model1}; chance is 0.1)`);
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
