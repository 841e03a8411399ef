// A module's pass on onnxruntime's blocked kernels (inference/blocked.ts) and a composed
// evaluation's passes in one graph (inference/passes.ts): the same outputs as the masked graph
// and as tfjs to 1e-5, with the values kept blocked from the first convolution to the pooling,
// few-position masks written in place, and what several passes share computed once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/node/graph/backend.ts';
import { foldMasks } from '../src/core/node/graph/fold.ts';
import { nchwcBlockSize } from '../src/core/node/graph/nchwc.ts';
import { decodeModel } from '../src/core/node/graph/onnx-proto.ts';
import { loadOrt } from '../src/core/node/graph/ort.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { composedGraphs } from '../src/core/node/inference/composed.ts';
import {
  convertToOnnx,
  fullMasks,
  openInference,
  OrtInference,
  type InferenceEngine,
  type MaskSet,
} from '../src/core/node/inference/index.ts';
import { buildResNet } from '../src/core/node/models/resnet.ts';
import { modelToArtifacts, type Preprocess } from '../src/core/node/models/io.ts';
import { maxDiff, randomImages, randomize, rng } from './helpers/random-weights.ts';

await initBackend('wasm');

const PRE: Preprocess = { mean: 127.5, std: 64 };
const block = await nchwcBlockSize(await loadOrt());

/**
 * Masks as a decomposition makes them, per layer in turn: none; a few channels removed
 * everywhere; a few channels removed at a few positions; a channel scaled by 0.5 and one 0.5 at
 * a few positions; and (`dense`) many positions of many channels removed. `seed` picks them.
 */
function moduleMasks(e: InferenceEngine, seed: number, dense = true): MaskSet {
  const r = rng(seed);
  const masks: MaskSet = new Map();
  e.layout.maskable.forEach(({ name, shape }, k) => {
    const c = shape[shape.length - 1]!;
    const m = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1);
    const kind = k === 0 ? 0 : dense && k === 3 ? 4 : 1 + (k % 3);
    for (let i = 0; i < m.length; i++) {
      const ch = i % c;
      if (kind === 1 && ch % 5 === seed % 5) m[i] = 0;
      if (kind === 2 && ch % 7 === seed % 7 && r() < 0.05) m[i] = 0;
      if (kind === 3 && ch === 1) m[i] = 0.5;
      if (kind === 3 && ch === 2 && r() < 0.03) m[i] = 0.5;
      if (kind === 4 && ch % 2 === 0 && r() < 0.5) m[i] = 0;
    }
    masks.set(name, m);
  });
  return masks;
}

const images = randomImages;

/** Operator types of an ONNX graph, in order. */
function ops(bytes: Uint8Array): string[] {
  const m = decodeModel(bytes) as { graph: { node: { opType: string }[] } };
  return m.graph.node.map((n) => n.opType);
}

/** A net with what a ResNet lacks: pools on blocked values, a norm that is not a convolution's one reader. */
function pooled(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3], name: 'in' });
  const ap = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    l.apply(x) as tf.SymbolicTensor;
  const c1 = ap(
    tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
    input,
  );
  const p1 = ap(tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }), c1);
  const c2 = ap(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', name: 'c2' }), p1);
  const add = ap(tf.layers.add({ name: 'add' }), [c2, p1]);
  const bn = ap(tf.layers.batchNormalization({ name: 'bn' }), add);
  const r = ap(tf.layers.activation({ activation: 'relu', name: 'r' }), bn);
  const p2 = ap(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'p2' }), r);
  const c3 = ap(
    tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c3' }),
    p2,
  );
  const g = ap(tf.layers.globalMaxPooling2d({ name: 'g' }), c3);
  const d = ap(tf.layers.dense({ units: 4, activation: 'softmax', name: 'd' }), g);
  return tf.model({ inputs: input, outputs: d });
}

test('a folded module pass stays blocked from its first convolution to its pooling and gives the masked pass to 1e-5', async (t) => {
  if (!block) return t.skip('onnxruntime has no blocked (NCHWc) kernels on this CPU');
  for (const [label, model] of [
    ['ResNet-8', buildResNet({ depth: 8, inputSize: 16, classes: 5, seed: 2 })],
    ['ResNet-8 with BN', buildResNet({ depth: 8, inputSize: 16, classes: 5, seed: 3, batchNorm: true })],
    ['pools and a norm after an Add', pooled()],
  ] as const) {
    randomize(model, 7);
    const artifacts = await modelToArtifacts(model);
    const plan = planModel(artifacts);
    const shape = model.inputs[0]!.shape.slice(1) as number[];
    const ort = (await openInference(artifacts, { engine: 'onnxruntime', preprocess: PRE })) as OrtInference;
    const tfjs = await openInference(artifacts, { engine: 'tfjs', preprocess: PRE });
    try {
      const img = images(40, shape, 11);
      for (const dense of [false, true]) {
        const masks = moduleMasks(ort, 4, dense);
        const folded = await ort.predictMaskedOn('folded', img, 40, masks);
        const shared = await ort.predictMaskedOn('shared', img, 40, masks);
        const reference = await tfjs.predictMasked(img, 40, masks);
        assert.ok(maxDiff(folded, shared) < 1e-5, `${label}: folded vs masked ${maxDiff(folded, shared)}`);
        assert.ok(
          maxDiff(folded, reference) < 1e-5,
          `${label}: folded vs tfjs ${maxDiff(folded, reference)}`,
        );
        assert.ok(
          maxDiff(folded, await ort.predict(img, 40)) > 1e-4,
          `${label}: the masks change the output`,
        );
        const features = await tfjs.predictFeatures!(img, 40, masks);
        const f = await ort.predictFeaturesMany(img, 40, [masks, masks], { share: true });
        assert.ok(maxDiff(f[0]!, features) < 1e-5, `${label}: features ${maxDiff(f[0]!, features)}`);
      }
      // Masks that change few positions: no multiplication and no reorder between the first
      // convolution and the pooling; each position-varying mask written in place.
      const f = foldMasks(plan, fullMasks(ort.layout, moduleMasks(ort, 4, false), new Map()));
      const graph = ops(convertToOnnx(f.plan, { preprocess: PRE, masks: f.masks, nchwcBlock: block }));
      const from = graph.indexOf('Conv');
      const to = graph.findIndex((o) => /Pool/.test(o) && o !== 'MaxPool' && o !== 'AveragePool');
      const between = graph.slice(from, to);
      const count = (op: string) => between.filter((o) => o === op).length;
      for (const op of ['ReorderInput', 'ReorderOutput', 'Transpose'])
        assert.equal(count(op), 0, `${label}: ${op} between the convolutions: ${between.join(' ')}`);
      // One write per mask; a multiplication only of the few values a mask scales (not zeroes),
      // and of a norm no convolution takes in.
      assert.equal(count('ScatterElements'), f.masks.size, between.join(' '));
      const scaling = [...f.masks.values()].filter((m) => m.some((x) => x !== 0 && x !== 1)).length;
      const norms = plan.nodes.filter(
        (n) => n.op === 'bn' && plan.nodes.find((c) => c.name === n.inputs[0])?.op !== 'conv',
      );
      assert.equal(count('Mul'), scaling + norms.length, between.join(' '));
    } finally {
      await ort.close();
      await tfjs.close();
      model.dispose();
    }
  }
});

test('a composed evaluation computes what its module passes share once, with the outputs of each pass on its own', async (t) => {
  if (!block) return t.skip('onnxruntime has no blocked (NCHWc) kernels on this CPU');
  const model = buildResNet({ depth: 8, inputSize: 16, classes: 5, seed: 5, batchNorm: true });
  randomize(model, 9);
  const artifacts = await modelToArtifacts(model);
  const plan = planModel(artifacts);
  const e = (await openInference(artifacts, { engine: 'onnxruntime', preprocess: PRE })) as OrtInference;
  try {
    // Four modules: two alike up to their last stage, two of their own; one all ones.
    const a = moduleMasks(e, 4, false);
    const b = new Map(a);
    const last = plan.maskable[plan.maskable.length - 2]!.name;
    b.set(last, moduleMasks(e, 6, false).get(last)!);
    const sets = [a, b, moduleMasks(e, 8, false), new Map()];
    const count = 1000; // folding pays: every pass runs in the shared graphs
    const img = images(count, [16, 16, 3], 12);
    const shared = await e.predictFeaturesMany(img, count, sets);
    const alone = await e.predictFeaturesMany(img, count, sets, { share: false });
    sets.forEach((_, j) =>
      assert.ok(maxDiff(shared[j]!, alone[j]!) < 1e-5, `pass ${j}: ${maxDiff(shared[j]!, alone[j]!)}`),
    );
    // The same as the graph that masks every layer, in passes too small to fold.
    const small = await e.predictFeatures(img.subarray(0, 10 * 16 * 16 * 3), 10, b);
    assert.ok(maxDiff(shared[1]!.subarray(0, small.length), small) < 1e-5);
    // One graph; the first convolution (no module masks it) runs once, and the two alike
    // modules share every convolution up to their last stage.
    const folded = sets.map((m) => foldMasks(plan, fullMasks(e.layout, m, new Map())));
    const graphs = composedGraphs(folded, { preprocess: PRE, nchwcBlock: block });
    assert.equal(graphs.length, 1);
    const convs = ops(graphs[0]!.bytes).filter((o) => o === 'Conv').length;
    const perPass = plan.nodes.filter((n) => n.op === 'conv').length;
    assert.ok(convs <= 4 * perPass - 3 - (perPass - 3), `${convs} convolutions for 4 passes of ${perPass}`);
    assert.ok(graphs[0]!.shared > 0.2, `shared ${graphs[0]!.shared}`);
  } finally {
    await e.close();
    model.dispose();
  }
});
