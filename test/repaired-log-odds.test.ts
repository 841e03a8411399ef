// A repaired classifier ranks its modules by log-odds, as composed votes are: on a confident
// model two modules' concerned probabilities both round to 1 in float32, and ranking those
// picked the lower class index. Its predictions, `predict` and the exported ONNX (run with
// onnxruntime) follow the modules' log-odds instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { ImageSet } from '../src/core/common/dataset.ts';
import { encodePng } from '../src/core/node/data/png.ts';
import { composedScores, decompose } from '../src/core/node/decompose/index.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import { readModelDir } from '../src/core/node/models/io.ts';
import { argmaxRows } from '../src/core/node/train/metrics.ts';
import {
  closeRepaired,
  loadRepaired,
  predictRepaired,
  repairedScores,
  saveRepaired,
  type RepairedRecipe,
} from '../src/core/node/wizard/repaired.ts';
import { alwaysActiveModel } from './helpers/always-active.ts';
import { cli } from './helpers/cli.ts';
import { saveTestModel } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

const SIDE = 4;
const PX = SIDE * SIDE * 3;

/**
 * The always-active model with an identity conv: f in [3, 7] per channel after the default
 * preprocessing, logits z1 = 10 f_red + 30, z3 = 10 f_blue + 30, z0 = z2 = 0. Module k's
 * log-odds are z_k - mean of the others: 27 or more for classes 1 and 3 (probabilities that
 * round to 1 in float32), and module 1's exceed module 3's exactly where z1 > z3 (a redder image).
 */
async function confidentModel(dir: string): Promise<string> {
  const art = await alwaysActiveModel({
    scale: 1,
    head: [0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10],
    bias: [0, 30, 0, 30],
  });
  return saveTestModel(dir, art, { inputSize: SIDE, classes: 4 });
}

/** `count` one-colour images alternating red-ish (class 1's) and blue-ish (class 3's), each a shade apart. */
function images(count: number): ImageSet {
  const out = new Uint8Array(count * PX);
  for (let i = 0; i < count; i++) {
    const strong = 200 + i * 5;
    const weak = 40 + i * 3;
    const rgb = i % 2 ? [weak, 100, strong] : [strong, 100, weak];
    for (let p = 0; p < SIDE * SIDE; p++) out.set(rgb, i * PX + p * 3);
  }
  return { images: out, labels: Int32Array.from({ length: count }, (_, i) => i % 4), count, size: SIDE };
}

test('a repaired classifier of confident modules predicts by their log-odds, in Decomposer, predict and its exported ONNX', async () => {
  const root = tempDir('repaired-log-odds');
  const modelDir = await confidentModel(path.join(root, 'model'));
  const test8 = images(8);
  // The model's own prediction: class 1 on red images, class 3 on blue ones.
  const want = Int32Array.from({ length: test8.count }, (_, i) => (i % 2 ? 3 : 1));
  const engine = await openInference(modelDir);
  let set;
  try {
    assert.deepEqual(argmaxRows(await engine.predict(test8.images, test8.count), 4), want);
    [set] = await decompose(engine, planModel((await readModelDir(modelDir)).artifacts), images(16), {
      perClass: 4,
      approaches: ['CI+TI+MC'],
      point: 'conv',
    });
    // The premise: both modules are sure (probability 1 in float32), their log-odds are not equal.
    const c = await composedScores([{ engine, set: set!, classes: [1, 3] }], test8.images, test8.count);
    for (let i = 0; i < test8.count; i++) {
      assert.equal(c.scores[i * 2], 1, `image ${i}: module 1's probability rounds to 1`);
      assert.equal(c.scores[i * 2 + 1], 1, `image ${i}: module 3's probability rounds to 1`);
      assert.equal(c.margins[i * 2]! > c.margins[i * 2 + 1]!, want[i] === 1, `image ${i}: log-odds`);
    }
  } finally {
    await engine.close();
  }

  const parts = [{ modelDir, set: set! }];
  const recipes: [string, RepairedRecipe][] = [
    [
      'modules',
      {
        kind: 'modules',
        classNames: set!.parent.classNames,
        parts,
        labels: [0, 1, 2, 3].map((classIndex) => ({ part: 0, classIndex })),
      },
    ],
    [
      'verify',
      {
        kind: 'verify',
        classNames: set!.parent.classNames,
        parts,
        verify: {
          base: 0,
          pair: [
            { label: 1, source: { part: 0, classIndex: 1 } },
            { label: 3, source: { part: 0, classIndex: 3 } },
          ],
        },
      },
    ],
  ];
  const pngs = path.join(root, 'images');
  mkdirSync(pngs);
  for (let i = 0; i < test8.count; i++)
    writeFileSync(
      path.join(pngs, `img-${i}.png`),
      encodePng(test8.images.subarray(i * PX, (i + 1) * PX), SIDE, SIDE),
    );

  for (const [name, recipe] of recipes) {
    const dir = await saveRepaired(recipe, root, name, {});
    const { pipeline } = await loadRepaired(dir);
    let scores: Float32Array;
    try {
      assert.deepEqual(
        await predictRepaired(pipeline, test8.images, test8.count),
        want,
        `${name}: predictions`,
      );
      scores = await repairedScores(pipeline, test8.images, test8.count);
    } finally {
      await closeRepaired(pipeline);
    }
    // The verify kind re-decides every image (the model predicts 1 or 3): the pair scores above
    // every probability, the other classes keep theirs.
    if (name === 'verify')
      for (let i = 0; i < test8.count; i++) {
        for (const c of [1, 3]) assert.ok(scores[i * 4 + c]! >= 2, `verify: image ${i} class ${c} re-scored`);
        for (const c of [0, 2])
          assert.ok(scores[i * 4 + c]! <= 1, `verify: image ${i} class ${c} a probability`);
      }

    // The exported file, run with onnxruntime: the same scores, so the same predictions.
    const file = path.join(root, `${name}.onnx`);
    const x = cli(['export-model', dir, file]);
    assert.equal(x.status, 0, x.stderr);
    const s = await ort.InferenceSession.create(file);
    try {
      const r = await s.run({ pixels: new ort.Tensor('uint8', test8.images, [test8.count, SIDE, SIDE, 3]) });
      const got = r.scores!.data as Float32Array;
      assert.deepEqual(argmaxRows(got, 4), want, `${name}: the ONNX file's predictions`);
      for (let i = 0; i < scores.length; i++)
        assert.ok(
          Math.abs(got[i]! - scores[i]!) <= 1e-5 * Math.max(1, Math.abs(scores[i]!)),
          `${name}: ONNX score ${i}: ${got[i]} vs ${scores[i]}`,
        );
    } finally {
      await s.release();
    }

    // predict on the images as files: the same top class, and it says what its scores are.
    const p = cli(['predict', '--model', dir, '--json', '--top', '2', pngs]);
    assert.equal(p.status, 0, p.stderr);
    const out = JSON.parse(p.stdout) as {
      score_meaning: string;
      predictions: { file: string; top: { index: number; score: number }[] }[];
    };
    assert.match(out.score_meaning, /log-odds/);
    assert.equal(out.predictions.length, test8.count);
    for (const f of out.predictions) {
      const i = Number(/img-(\d+)\.png$/.exec(f.file)![1]);
      assert.equal(f.top[0]!.index, want[i], `${name}: predict on ${f.file}`);
      assert.ok(f.top[0]!.score > f.top[1]!.score, `${name}: ${f.file}'s top class scores strictly higher`);
    }
  }
});
