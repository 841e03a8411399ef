import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, truncate } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/node/graph/backend.ts';
import { buildResNet, countConvLayers } from '../src/core/node/models/resnet.ts';
import {
  DEFAULT_PREPROCESS,
  loadModelDir,
  modelToArtifacts,
  saveModelDir,
  type ModelMeta,
} from '../src/core/node/models/io.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { tempDir } from './helpers/temp.ts';

await initBackend('wasm');

const meta = (classes: number, inputSize: number): ModelMeta => ({
  architecture: 'resnet',
  depth: 8,
  batchNorm: false,
  inputSize,
  classes,
  classNames: Array.from({ length: classes }, (_, i) => `c${i}`),
  datasetId: 'test',
  preprocess: DEFAULT_PREPROCESS,
});

test('ResNet-20/32/56 have the 21, 33 and 57 convolution layers the paper counts', () => {
  for (const [depth, convs] of [
    [20, 21],
    [32, 33],
    [56, 57],
  ] as const) {
    const m = buildResNet({ depth, inputSize: 32, classes: 10 });
    assert.equal(countConvLayers(m), convs, `ResNet-${depth}`);
    // 1x1 projection shortcuts exactly where the shape changes (the first block of stages 2 and 3).
    const shortcuts = m.layers.filter((l) => l.name.endsWith('_shortcut'));
    assert.deepEqual(
      shortcuts.map((l) => l.name),
      ['stage2_block1_shortcut', 'stage3_block1_shortcut'],
    );
    for (const s of shortcuts)
      assert.deepEqual((s.getConfig() as { kernelSize: number[] }).kernelSize, [1, 1]);
    assert.equal(m.layers.filter((l) => l.getClassName() === 'Add').length, ((depth - 2) / 2 / 3) * 3);
    m.dispose();
  }
});

test('ResNet takes 32x32 and 64x64 inputs, any class count, and optional batch norm', () => {
  const a = buildResNet({ depth: 8, inputSize: 64, classes: 200, batchNorm: true });
  assert.deepEqual(a.inputs[0]!.shape, [null, 64, 64, 3]);
  assert.deepEqual(a.outputs[0]!.shape, [null, 200]);
  assert.ok(a.layers.some((l) => l.getClassName() === 'BatchNormalization'));
  const b = buildResNet({ depth: 8, inputSize: 32, classes: 3 });
  assert.ok(!b.layers.some((l) => l.getClassName() === 'BatchNormalization'));
  const out = b.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor;
  const sums = (tf.sum(out, 1).arraySync() as number[]).map((s) => Math.round(s * 1e5) / 1e5);
  assert.deepEqual(sums, [1, 1], 'softmax output');
  a.dispose();
  b.dispose();
  out.dispose();
});

test('a depth that is not 6n+2 is refused with a message', () => {
  assert.throws(
    () => buildResNet({ depth: 21, inputSize: 32, classes: 10 }),
    (e) => isUserError(e) && /6n\+2/.test(e.message),
  );
});

test('the same seed gives the same initial weights', async () => {
  const a = await modelToArtifacts(buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 5 }));
  const b = await modelToArtifacts(buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 5 }));
  const c = await modelToArtifacts(buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 6 }));
  assert.deepEqual(new Uint8Array(a.weightData), new Uint8Array(b.weightData));
  assert.notDeepEqual(new Uint8Array(a.weightData), new Uint8Array(c.weightData));
});

test('a saved model reloads in the tfjs-layers format and predicts identically', async () => {
  const dir = tempDir('model');
  const m = buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 2 });
  const x = tf.randomUniform([3, 16, 16, 3], 0, 1, 'float32', 9);
  const before = (m.predict(x) as tf.Tensor).dataSync();
  await saveModelDir(path.join(dir, 'm'), await modelToArtifacts(m), meta(4, 16));
  const json = JSON.parse(await readFile(path.join(dir, 'm', 'model.json'), 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.deepEqual(json.weightsManifest[0].paths, ['./weights.bin']);
  // Other tools read it with the stock loader, too.
  const { model, meta: loadedMeta } = await loadModelDir(path.join(dir, 'm'), { inputSize: 16, classes: 4 });
  assert.equal(loadedMeta?.classes, 4);
  const after = (model.predict(x) as tf.Tensor).dataSync();
  assert.deepEqual(Array.from(after), Array.from(before));
});

test('a model for another input shape or class count, or with truncated weights, is refused naming the file', async () => {
  const dir = tempDir('model');
  const m = buildResNet({ depth: 8, inputSize: 16, classes: 4 });
  await saveModelDir(dir, await modelToArtifacts(m), meta(4, 16));
  await assert.rejects(
    loadModelDir(dir, { inputSize: 32 }),
    (e) => isUserError(e) && e.message.includes('model.json') && /16, 16, 3/.test(e.message),
  );
  await assert.rejects(
    loadModelDir(dir, { classes: 10 }),
    (e) => isUserError(e) && /4 output classes/.test(e.message),
  );
  await truncate(path.join(dir, 'weights.bin'), 100);
  await assert.rejects(loadModelDir(dir), (e) => isUserError(e) && /truncated/.test(e.hint));
  await writeFile(path.join(dir, 'model.json'), '{"modelTopology": ');
  await assert.rejects(loadModelDir(dir), (e) => isUserError(e) && /not valid JSON/.test(e.message));
  await assert.rejects(
    loadModelDir(path.join(dir, 'nope')),
    (e) => isUserError(e) && /No model/.test(e.message),
  );
});
