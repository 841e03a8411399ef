// A tfjs-layers folder made elsewhere (Keras through tensorflowjs_converter): used as it is,
// the commands say it records no preprocessing; imported, its preprocessing is recorded and
// it predicts what the model computes on the inputs it was trained on (x / 255 here), its
// logits given a softmax, with where it came from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readModelDir } from '../src/core/node/models/io.ts';
import { encodePng } from '../src/core/node/data/png.ts';
import { fourColours } from './helpers/onnx-import.ts';
import { cli } from './helpers/cli.ts';
import { tempDir } from './helpers/temp.ts';

/** A small Keras-like classifier ending in logits, saved as tensorflowjs_converter writes it. */
async function convertedFolder(dir: string): Promise<tf.LayersModel> {
  const input = tf.input({ shape: [8, 8, 3] });
  const c = tf.layers
    .conv2d({
      filters: 4,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: tf.initializers.heNormal({ seed: 1 }),
    })
    .apply(input);
  const p = tf.layers.globalAveragePooling2d({}).apply(c);
  const out = tf.layers
    .dense({
      units: 4,
      kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }),
      biasInitializer: 'ones',
    })
    .apply(p) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), Buffer.from(a.weightData as ArrayBuffer));
      const json = {
        format: 'layers-model',
        generatedBy: 'keras v2.15.0',
        convertedBy: 'TensorFlow.js Converter v4.22.0',
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: a.weightSpecs }],
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return model;
}

test('a converted tfjs-layers folder: used as it is, the commands say it records no preprocessing; imported, its preprocessing is recorded and it predicts on x / 255', async () => {
  const root = tempDir('import-tfjs');
  const keras = path.join(root, 'keras');
  const model = await convertedFolder(keras);
  const data = await fourColours(path.join(root, 'data'));
  const rgb = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 53) % 256);
  const image = path.join(root, 'image.png');
  fs.writeFileSync(image, encodePng(rgb, 8, 8));

  const asIs = cli(['predict', '--model', keras, '--json', image]);
  assert.equal(asIs.status, 0, asIs.stderr);
  assert.match(asIs.stderr, /records no preprocessing .* decomposer import .* --mean M --std S/);

  const out = path.join(root, 'imported');
  const imp = cli([
    'import',
    keras,
    '--out',
    out,
    '--dataset',
    `folder:${data}`,
    '--mean',
    '0',
    '--std',
    '1',
    '--json',
  ]);
  assert.equal(imp.status, 0, imp.stderr);
  const read = await readModelDir(out);
  assert.equal(read.artifacts.kind, 'plan');
  assert.equal(read.meta?.architecture, 'imported');
  if (read.meta?.architecture !== 'imported') return;
  const s = read.meta.source;
  assert.equal(s.format, 'tfjs-layers');
  assert.deepEqual(s.producer, { name: 'TensorFlow.js', version: 'Converter v4.22.0' });
  assert.equal(s.output, 'logits');
  assert.deepEqual(read.meta.preprocess, { scale: '0..1', mean: [0], std: [1] });

  const p = cli(['predict', '--model', out, '--top', '4', '--json', image]);
  assert.equal(p.status, 0, p.stderr);
  assert.doesNotMatch(p.stderr, /records no preprocessing/);
  const got = (JSON.parse(p.stdout) as { predictions: { top: { index: number; score: number }[] }[] })
    .predictions[0]!.top;
  const want = tf
    .tidy(() =>
      tf.softmax(
        model.predict(
          tf.tensor4d(
            Float32Array.from(rgb, (x) => x / 255),
            [1, 8, 8, 3],
          ),
        ) as tf.Tensor2D,
      ),
    )
    .dataSync();
  for (const t of got)
    assert.ok(Math.abs(t.score - want[t.index]!) < 1e-5, `class ${t.index}: ${t.score} vs ${want[t.index]}`);
  model.dispose();
});
