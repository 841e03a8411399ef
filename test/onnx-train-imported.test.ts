// Training imported architectures on the onnxruntime graphs: the backward rules of what only
// imported plans hold (explicit and asymmetric pads, zero padding, averages that count the
// padding, ReLU6, grey inputs) against finite differences (tfjs cannot express these layers),
// the fresh weights a baseline starts from, and the refusal of a layer that cannot train.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { OnnxTrainEngine } from '../src/core/node/engine/onnx-train/engine.ts';
import { loadOrt } from '../src/core/node/graph/ort.ts';
import { Rng } from '../src/core/node/data/random.ts';
import { freshPlan } from '../src/core/node/graph/fresh-plan.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import type { PlanArtifacts, Preprocess } from '../src/core/node/models/io.ts';
import type { PlanNodeSpec } from '../src/core/node/models/schema.ts';
import { train } from '../src/core/node/train/trainer.ts';
import { importedArchitecture } from '../src/core/node/train/architecture.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { colourDataset } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';
import { storedPlan, untrainableModel } from './helpers/onnx-import.ts';

const PRE: Preprocess = { scale: '0..1', mean: 0.5, std: 0.25 };

/**
 * What PyTorch's and tf2onnx's graphs hold and tfjs-layers cannot say: a stride-2 convolution
 * padded on every side, a zero pad of its own, an average counting its padding, ReLU6, a max
 * pool padded after, a hidden dense layer.
 */
function importedLayers(channels: number, size: number, seed: number): PlanArtifacts {
  const s = Math.floor((size + 2 - 3) / 2) + 1; // c1's output side
  const p = s + 1; // after the zero pad
  const a = Math.floor((p + 2 - 3) / 2) + 1; // the average's output side
  return storedPlan(
    channels,
    size,
    [
      {
        name: 'c1',
        className: 'Conv2D',
        inputs: ['in'],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        activation: 'tanh',
      },
      { name: 'zp', className: 'ZeroPadding2D', inputs: ['c1'], pads: [1, 0, 0, 1] },
      {
        name: 'avg',
        className: 'AveragePooling2D',
        inputs: ['zp'],
        poolSize: [3, 3],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        countPad: true,
      },
      {
        name: 'c2',
        className: 'Conv2D',
        inputs: ['avg'],
        strides: [1, 1],
        pads: [0, 1, 1, 0],
        activation: 'linear',
      },
      { name: 'r6', className: 'ReLU', inputs: ['c2'], activation: 'relu6' },
      {
        name: 'mp',
        className: 'MaxPooling2D',
        inputs: ['r6'],
        poolSize: [2, 2],
        strides: [1, 1],
        pads: [0, 0, 1, 1],
      },
      { name: 'f', className: 'Flatten', inputs: ['mp'] },
      { name: 'd1', className: 'Dense', inputs: ['f'], activation: 'tanh' },
      { name: 'd2', className: 'Dense', inputs: ['d1'] },
      { name: 'probs', className: 'Softmax', inputs: ['d2'] },
    ],
    {
      'c1/kernel': [3, 3, channels, 4],
      'c1/bias': [4],
      'c2/kernel': [2, 2, 4, 5],
      'c2/bias': [5],
      'd1/kernel': [a * a * 5, 6],
      'd1/bias': [6],
      'd2/kernel': [6, 3],
      'd2/bias': [3],
    },
    seed,
  );
}

/**
 * Each weight's gradient along a random direction against the loss's central difference
 * along it; the error per weight, relative to the difference (floored where it is near 0).
 */
async function finiteDifferences(artifacts: PlanArtifacts, seed: number) {
  const plan = planModel(artifacts);
  const size = plan.input.shape[0]!;
  const engine = new OnnxTrainEngine(await loadOrt(), { threads: 1 });
  try {
    const layout = await engine.load(artifacts, PRE);
    const rng = new Rng(seed);
    const n = 3;
    const per = size * size * 3; // RGB pixels, whatever the model's channels
    const images = Uint8Array.from({ length: n * per }, () => rng.int(256));
    const labels = Int32Array.from({ length: n }, () => rng.int(plan.classes));
    const w0 = engine.weights.slice();
    await engine.gradients(images, labels, n, null);
    const grads = engine.grads.slice();
    const loss = async (w: Float32Array) => {
      engine.weights.set(w);
      engine.weightsChanged();
      return (await engine.gradients(images, labels, n, null)).loss;
    };
    // Small enough that no max, ReLU6 or window switches along the step (1e-2 does, measured).
    const eps = 1e-3;
    const out: { name: string; error: number }[] = [];
    for (let i = 0; i < layout.names.length; i++) {
      const [off, len] = [layout.offsets[i]!, layout.sizes[i]!];
      const v = Float32Array.from({ length: len }, () => rng.next() * 2 - 1);
      let along = 0;
      for (let j = 0; j < len; j++) along += grads[off + j]! * v[j]!;
      const moved = (sign: number) => {
        const w = w0.slice();
        for (let j = 0; j < len; j++) w[off + j]! += sign * eps * v[j]!;
        return w;
      };
      const fd = ((await loss(moved(1))) - (await loss(moved(-1)))) / (2 * eps);
      // The loss is float32: its difference is good to about 1e-4 here (a few ulps over 2 eps).
      out.push({ name: layout.names[i]!, error: Math.abs(along - fd) / (Math.abs(fd) + 3e-2) });
    }
    return out;
  } finally {
    await engine.close();
  }
}

test('backward rules of imported layers (explicit pads, zero padding, padding-counting averages, ReLU6, grey inputs) match finite differences', async () => {
  for (const [channels, size, seed] of [
    [3, 11, 1],
    [3, 12, 2],
    [1, 10, 3],
  ] as const) {
    const errors = await finiteDifferences(importedLayers(channels, size, seed), seed);
    assert.equal(errors.length, 8);
    for (const e of errors)
      assert.ok(e.error < 1e-2, `${channels} channels at ${size}: ${e.name} relative error ${e.error}`);
  }
});

test('fresh weights: PyTorch’s default init, the head resized, residual branches at zero only without normalisation', () => {
  const residual = (bn: boolean) => {
    const nodes: PlanNodeSpec[] = [
      {
        name: 'stem',
        className: 'Conv2D',
        inputs: ['in'],
        strides: [1, 1],
        pads: [1, 1, 1, 1],
        activation: 'relu',
      },
      {
        name: 'b1',
        className: 'Conv2D',
        inputs: ['stem'],
        strides: [1, 1],
        pads: [1, 1, 1, 1],
        activation: 'relu',
      },
      { name: 'b2', className: 'Conv2D', inputs: ['b1'], strides: [1, 1], pads: [1, 1, 1, 1] },
      ...(bn ? [{ name: 'bn', className: 'BatchNormalization' as const, inputs: ['b2'] }] : []),
      { name: 'sum', className: 'Add', inputs: ['stem', bn ? 'bn' : 'b2'] },
      { name: 'g', className: 'GlobalAveragePooling2D', inputs: ['sum'] },
      { name: 'fc', className: 'Dense', inputs: ['g'] },
      { name: 'probs', className: 'Softmax', inputs: ['fc'] },
    ];
    const shapes: Record<string, number[]> = {
      'stem/kernel': [3, 3, 3, 8],
      'b1/kernel': [3, 3, 8, 8],
      'b1/bias': [8],
      'b2/kernel': [3, 3, 8, 8],
      'b2/bias': [8],
      'fc/kernel': [8, 10],
      'fc/bias': [10],
      ...(bn ? { 'bn/gamma': [8], 'bn/beta': [8], 'bn/moving_mean': [8], 'bn/moving_variance': [8] } : {}),
    };
    return storedPlan(3, 8, nodes, shapes, 5);
  };
  const folded = freshPlan(residual(false), { classes: 4, seed: 1 });
  assert.deepEqual(folded.zeroed, ['b2'], 'the branch, not the shortcut');
  const p = planModel(folded.artifacts);
  const at = (name: string) => p.nodes.find((n) => n.name === name)!;
  assert.equal(p.classes, 4);
  assert.deepEqual(at('fc').kernelShape, [8, 4]);
  assert.ok(at('b2').kernel!.every((x) => x === 0) && at('b2').bias!.every((x) => x === 0));
  // Kaiming uniform (a = sqrt(5)): U(-1/sqrt(fan in), 1/sqrt(fan in)), variance bound² / 3.
  for (const [name, fanIn] of [
    ['stem', 27],
    ['b1', 72],
  ] as const) {
    const k = at(name).kernel!;
    const bound = 1 / Math.sqrt(fanIn);
    assert.ok(
      k.every((x) => Math.abs(x) <= bound),
      `${name} within its bound`,
    );
    const variance = k.reduce((s, x) => s + x * x, 0) / k.length;
    assert.ok(Math.abs(variance / ((bound * bound) / 3) - 1) < 0.15, `${name}: variance ${variance}`);
  }
  assert.equal(at('stem').bias, null, 'a layer without bias stays without');
  assert.ok(at('b1').bias!.every((x) => Math.abs(x) <= 1 / Math.sqrt(72)));

  const normalised = freshPlan(residual(true), { classes: 4, seed: 1 });
  assert.deepEqual(normalised.zeroed, [], 'batch norm: nothing starts at zero');
  const q = planModel(normalised.artifacts);
  const bn = q.nodes.find((n) => n.name === 'bn')!;
  assert.ok(bn.gamma!.every((x) => x === 1) && bn.beta!.every((x) => x === 0));
  assert.ok(bn.mean!.every((x) => x === 0) && bn.variance!.every((x) => x === 1));
  assert.ok(q.nodes.find((n) => n.name === 'b2')!.kernel!.some((x) => x !== 0));
});

test('an imported architecture with a layer onnxruntime cannot train is refused naming it, never trained on tfjs', async () => {
  const dir = await untrainableModel(path.join(tempDir('untrainable'), 'model'));
  await assert.rejects(
    train({
      runDir: tempDir('untrainable-run'),
      data: colourDataset({ size: 6, classes: 4, train: 8, test: 4 }),
      workers: 0,
      config: { epochs: 1, batchSize: 4 },
      architecture: await importedArchitecture(dir),
    }),
    (e: unknown) => {
      assert.ok(isUserError(e), String(e));
      assert.match(
        (e as Error).message,
        /cannot be trained here .*"mid" \(Softmax\).*softmax is trained only as the model output/,
      );
      return true;
    },
  );
});
