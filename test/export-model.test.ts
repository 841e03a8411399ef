// decomposer export-model: a model trained here and a repaired classifier (its modules from
// several models; a removed label; a verifying pipeline) as one ONNX file each, which
// onnxruntime runs to the scores Decomposer computes for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { decompose } from '../src/core/node/decompose/decompose.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { readModelDir } from '../src/core/node/models/io.ts';
import {
  closeRepaired,
  loadRepaired,
  repairedScores,
  saveRepaired,
  type RepairedRecipe,
} from '../src/core/node/wizard/repaired.ts';
import { colourDataset, trainedTiny } from './helpers/fixtures.ts';
import { cli } from './helpers/cli.ts';
import { tempDir } from './helpers/temp.ts';

const data = colourDataset({ classes: 4, train: 64, test: 12, size: 16 });
const test16 = data.test;

/** onnxruntime's output `name` for the test images, from the exported file. */
async function run(file: string, name: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  try {
    const r = await s.run({ pixels: new ort.Tensor('uint8', test16.images, [test16.count, 16, 16, 3]) });
    return r[name]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Equal to 1e-5, relative where larger than 1 (log-odds); infinities equal. */
function close(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++)
    assert.ok(
      got[i] === want[i] || Math.abs(got[i]! - want[i]!) <= 1e-5 * Math.max(1, Math.abs(want[i]!)),
      `${what}[${i}]: ${got[i]} vs ${want[i]}`,
    );
}

test('a model trained here and repaired classifiers export as one ONNX file each, with the scores Decomposer gives them', async () => {
  const root = tempDir('export-model');
  const a = (await trainedTiny(data, { runDir: path.join(root, 'a'), seed: 1 })).modelDir!;
  const b = (await trainedTiny(data, { runDir: path.join(root, 'b'), seed: 2 })).modelDir!;

  // The model itself: the probabilities predict gives.
  const file = path.join(root, 'a.onnx');
  const r = cli(['export-model', a, file]);
  assert.equal(r.status, 0, r.stderr);
  const engine = await openInference(a);
  try {
    close(await run(file, 'probs'), await engine.predict(test16.images, test16.count), 'model');
  } finally {
    await engine.close();
  }

  const sets = [];
  for (const dir of [a, b]) {
    const e = await openInference(dir);
    try {
      const plan = planModel((await readModelDir(dir)).artifacts);
      sets.push(
        (await decompose(e, plan, data.train, { perClass: 6, classNames: data.info.classNames }))[0]!,
      );
    } finally {
      await e.close();
    }
  }
  const parts = [
    { modelDir: a, set: sets[0]! },
    { modelDir: b, set: sets[1]! },
  ];
  const recipes: [string, RepairedRecipe][] = [
    [
      'mixed',
      {
        kind: 'modules',
        classNames: data.info.classNames,
        parts,
        // Class 1 from the second model, class 3 removed.
        labels: [{ part: 0, classIndex: 0 }, { part: 1, classIndex: 1 }, { part: 0, classIndex: 2 }, null],
      },
    ],
    [
      'verify',
      {
        kind: 'verify',
        classNames: data.info.classNames,
        parts,
        verify: {
          base: 0,
          pair: [
            { label: 1, source: { part: 1, classIndex: 1 } },
            { label: 2, source: { part: 1, classIndex: 2 } },
          ],
        },
      },
    ],
  ];
  for (const [name, recipe] of recipes) {
    const dir = await saveRepaired(recipe, root, name, {});
    const out = path.join(root, `${name}.onnx`);
    const x = cli(['export-model', dir, out]);
    assert.equal(x.status, 0, x.stderr);
    const { pipeline } = await loadRepaired(dir);
    try {
      const want = await repairedScores(pipeline, test16.images, test16.count);
      // Both rules at work: a removed label (-Infinity), rows the pair's modules re-decided (>= 2).
      assert.ok(
        want.some((v) => (name === 'mixed' ? v === -Infinity : v >= 2)),
        `${name}: the rule applies`,
      );
      close(await run(out, 'scores'), want, name);
    } finally {
      await closeRepaired(pipeline);
    }
  }
});
