// A confident model's modules: their concerned probabilities round to 1 in float32 for several
// classes of one image, so composed votes are ranked by their log-odds. With no position
// removed, channeled heads (MC) vote exactly as the model does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/node/graph/backend.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { generateSynthetic } from '../src/core/node/data/index.ts';
import { modelToArtifacts, DEFAULT_PREPROCESS } from '../src/core/node/models/io.ts';
import { buildResNet } from '../src/core/node/models/resnet.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import { topKAccuracy } from '../src/core/node/train/metrics.ts';
import { composedAccuracy, composedScores, decompose } from '../src/core/node/decompose/index.ts';
import { randomize } from './helpers/random-weights.ts';

await initBackend('wasm');

test('a confident model’s composed modules vote as the model does where no position is removed', async () => {
  const data = generateSynthetic('shapes', 32, { trainPerClass: 4, testPerClass: 30 });
  const model = buildResNet({ depth: 8, inputSize: 32, classes: 10, seed: 3 });
  randomize(model, 4);
  // Large logits, as a converged model gives: softmax margins far beyond float32's resolution.
  const head = model.layers.at(-1)!;
  head.setWeights(head.getWeights().map((w) => tf.mul(w, 200)));
  const artifacts = await modelToArtifacts(model);
  const engine = await openInference(artifacts, { engine: 'onnxruntime', preprocess: DEFAULT_PREPROCESS });
  try {
    const [set] = await decompose(engine, planModel(artifacts), data.train, {
      approaches: ['CI+TI+MC'],
      perClass: 4,
    });
    const none = (m: Map<string, Uint8Array>) =>
      new Map([...m].map(([k, v]) => [k, new Uint8Array(v.length)]));
    const bare = {
      ...set!,
      modules: set!.modules.map((m) => ({ ...m, forced: none(m.forced), removed: none(m.removed) })),
    };
    const c = await composedScores([{ engine, set: bare }], data.test.images, data.test.count);
    const n = data.test.count;
    const M = c.labels.length;
    let saturated = 0;
    for (let i = 0; i < n; i++)
      if (c.scores.subarray(i * M, (i + 1) * M).filter((p) => p === 1).length > 1) saturated++;
    assert.ok(saturated > n / 10, `several modules' probabilities are 1 for ${saturated} of ${n} images`);
    const probs = await engine.predict(data.test.images, n);
    const model1 = topKAccuracy(probs, data.test.labels, 10, 1);
    assert.equal(composedAccuracy(c, data.test.labels, 1), model1);
  } finally {
    await engine.close();
  }
});
