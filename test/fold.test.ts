// A module's masks folded into its weights (graph/fold.ts): the same outputs as the masked
// graph that multiplies every layer, with a multiplication left only where a mask varies by
// position within a channel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/node/graph/backend.ts';
import { foldMasks } from '../src/core/node/graph/fold.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { decodeModel } from '../src/core/node/graph/onnx-proto.ts';
import { nchwcBlockSize } from '../src/core/node/graph/nchwc.ts';
import { loadOrt } from '../src/core/node/graph/ort.ts';
import { buildResNet } from '../src/core/node/models/resnet.ts';
import { modelToArtifacts, type Preprocess } from '../src/core/node/models/io.ts';
import {
  convertToOnnx,
  FOLD_MIN_LAYER_IMAGES,
  foldPays,
  openInference,
  sparedLayers,
  OrtInference,
  type InferenceEngine,
  type MaskSet,
} from '../src/core/node/inference/index.ts';
import { cli, jsonLines } from './helpers/cli.ts';
import { maxDiff, randomize, rng } from './helpers/random-weights.ts';

await initBackend('wasm');

const PRE: Preprocess = { mean: 127.5, std: 64 };

/**
 * Masks as a decomposition makes them: per layer, channels kept everywhere, removed
 * everywhere, or removed at some positions; a layer with no removal, one removed only by
 * whole channels, and a channel scaled by 0.5 (masks are multipliers).
 */
function moduleMasks(e: InferenceEngine, seed: number): MaskSet {
  const r = rng(seed);
  const masks: MaskSet = new Map();
  e.layout.maskable.forEach(({ name, shape }, k) => {
    const c = shape[shape.length - 1]!;
    const n = shape.reduce((a, b) => a * b, 1);
    const kind = Array.from({ length: c }, (_, ch) =>
      k === 0 ? 1 : k % 2 ? (ch % 3 === 0 ? 0 : 1) : ch === 1 ? 0.5 : [0, 1, 2][Math.floor(r() * 3)]!,
    );
    const m = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = kind[i % c]!;
      m[i] = v === 2 ? (r() < 0.6 ? 1 : 0) : v;
    }
    masks.set(name, m);
  });
  return masks;
}

/** The same pass in chunks too small to fold: the graph that multiplies every layer. */
async function unfolded(
  f: (img: Uint8Array, n: number) => Promise<Float32Array>,
  img: Uint8Array,
  count: number,
  chunk: number,
): Promise<Float32Array> {
  const per = img.length / count;
  const parts: Float32Array[] = [];
  for (let a = 0; a < count; a += chunk) {
    const n = Math.min(chunk, count - a);
    parts.push(await f(img.subarray(a * per, (a + n) * per), n));
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

async function check(model: tf.LayersModel, label: string): Promise<void> {
  randomize(model, 3);
  const artifacts = await modelToArtifacts(model);
  const plan = planModel(artifacts);
  const shape = model.inputs[0]!.shape.slice(1) as number[];
  const open = () => openInference(artifacts, { engine: 'onnxruntime', preprocess: PRE, batchSize: 500 });
  // Folded: the engine's own masked passes; the reference: another engine, in passes too small to fold.
  const e = await open();
  const ref = await open();
  try {
    const masks = moduleMasks(e, 9);
    const spared = sparedLayers(
      plan.maskable.length,
      foldMasks(plan, masks),
      await nchwcBlockSize(await loadOrt()),
    );
    const count = Math.ceil(FOLD_MIN_LAYER_IMAGES / spared);
    assert.ok(foldPays(count, spared) && !foldPays(count - 1, spared));
    const chunk = Math.floor((count - 1) / 2);
    const r = rng(5);
    const img = new Uint8Array(count * shape.reduce((a, b) => a * b, 1)).map(() => Math.floor(r() * 256));
    const folded = await e.predictMasked(img, count, masks);
    const today = await unfolded((x, n) => ref.predictMasked(x, n, masks), img, count, chunk);
    assert.ok(maxDiff(folded, today) < 1e-5, `${label}: probabilities ${maxDiff(folded, today)}`);
    assert.ok(maxDiff(folded, await e.predict(img, count)) > 1e-4, `${label}: the masks change the output`);
    const shared = await (e as OrtInference).predictMaskedOn('shared', img, count, masks);
    assert.ok(maxDiff(folded, shared) < 1e-5, `${label}: the shared graph ${maxDiff(folded, shared)}`);
    const ff = await e.predictFeatures!(img, count, masks);
    const ft = await unfolded((x, n) => ref.predictFeatures!(x, n, masks), img, count, chunk);
    assert.ok(maxDiff(ff, ft) < 1e-5, `${label}: features ${maxDiff(ff, ft)}`);
    // A composed evaluation of two modules in turn (each folded once) gives each one's pass.
    const other = moduleMasks(e, 10);
    const o1 = await e.predictFeatures!(img, count, other);
    const again = await e.predictFeatures!(img, count, masks);
    assert.ok(maxDiff(again, ft) < 1e-5, `${label}: features after another module`);
    const o2 = await unfolded((x, n) => ref.predictFeatures!(x, n, other), img, count, chunk);
    assert.ok(maxDiff(o1, o2) < 1e-5, `${label}: the other module's features`);
  } finally {
    await e.close();
    await ref.close();
  }
}

test('a folded module pass gives the masked pass to 1e-5: every layer kind, and a ResNet', async () => {
  const input = tf.input({ shape: [11, 9, 3], name: 'in' });
  const ap = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    l.apply(x) as tf.SymbolicTensor;
  const c1 = ap(
    tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
    input,
  );
  const c2 = ap(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'c2' }), c1);
  const bn = ap(tf.layers.batchNormalization({ name: 'bn' }), c2);
  const rl = ap(tf.layers.activation({ activation: 'relu', name: 'r' }), bn);
  const add = ap(tf.layers.add({ name: 'add' }), [c1, rl]);
  const c3 = ap(
    tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', name: 'c3' }),
    add,
  );
  const r3 = ap(tf.layers.reLU({ name: 'r3' }), c3);
  const f = ap(tf.layers.flatten({ name: 'flat' }), r3);
  const d1 = ap(tf.layers.dense({ units: 8, activation: 'relu', name: 'd1' }), f);
  const d2 = ap(tf.layers.dense({ units: 4, activation: 'softmax', name: 'd2' }), d1);
  await check(tf.model({ inputs: input, outputs: d2 }), 'layers');
  await check(buildResNet({ depth: 8, inputSize: 16, classes: 5, seed: 2 }), 'ResNet-8');
});

test('folding leaves a mask input only where a mask varies by position within a channel', async () => {
  const model = buildResNet({ depth: 8, inputSize: 16, classes: 5, seed: 2 });
  const plan = planModel(await modelToArtifacts(model));
  const e = await openInference(await modelToArtifacts(model), { engine: 'onnxruntime', preprocess: PRE });
  try {
    const masks = moduleMasks(e, 9);
    const f = foldMasks(plan, masks);
    const varying = [...masks]
      .filter(([name, m]) => {
        const c = plan.maskable.find((l) => l.name === name)!.shape.at(-1)!;
        return [...m].some((x, i) => x !== m[i % c]);
      })
      .map(([name]) => name);
    assert.ok(varying.length > 0 && varying.length < masks.size);
    assert.deepEqual([...f.masks.keys()].sort(), varying.sort());
    // The layers removed by whole channels only changed their weights; the first layer (all ones) did not.
    const first = plan.maskable[0]!.name;
    assert.ok(!f.folded.includes(first) && f.folded.length > 0);
    assert.notEqual(f.plan.hash, plan.hash);
    const graph = decodeModel(
      convertToOnnx(f.plan, { input: 'uint8', preprocess: PRE, masks: new Set(f.masks.keys()) }),
    ) as { graph: { input: { name: string }[] } };
    const inputs = graph.graph.input.map((i) => i.name).filter((n) => n.startsWith('mask/'));
    assert.deepEqual(inputs.sort(), varying.map((n) => `mask/${n}`).sort());
    // All-ones masks change nothing: the same plan.
    const ones: MaskSet = new Map(
      plan.maskable.map((l) => [l.name, new Uint8Array(l.shape.reduce((a, b) => a * b, 1)).fill(1)]),
    );
    assert.equal(foldMasks(plan, ones).plan, plan);
  } finally {
    await e.close();
  }
});

test('bench --decomposition reports a module pass against the model pass, and the composed evaluation with and without sharing against n model passes', () => {
  const r = cli([
    'bench',
    '--json',
    '--decomposition',
    '--backends',
    'onnxruntime',
    '--no-torch',
    '--depth',
    '8',
    '--batch',
    '8',
    '--seconds',
    '0',
    '--per-class',
    '4',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const figures = jsonLines<Record<string, number | string>>(r.stdout);
  const pass = figures.find((f) => f.figure === 'module_pass')!;
  assert.ok(pass, r.stdout);
  assert.equal(pass.test_images, 1000);
  const n = (k: string) => pass[k] as number;
  assert.ok(n('layers_folded') + n('layers_masked_by_position') <= n('maskable_layers'));
  for (const k of ['model_images_per_second', 'masked_images_per_second', 'folded_images_per_second'])
    assert.ok(n(k) > 0, k);
  const composed = figures.find((f) => f.figure === 'composed_evaluation')!;
  assert.ok((composed.ratio_to_n_model_evaluations as number) > 0, r.stdout);
  const passes = figures.find((f) => f.figure === 'composed_passes')!;
  assert.ok(passes, r.stdout);
  const p = (k: string) => passes[k] as number;
  assert.equal(p('modules'), 10);
  assert.ok(p('passes') >= 1 && p('passes') <= 10);
  for (const k of ['n_model_passes_seconds', 'shared_seconds', 'unshared_seconds']) assert.ok(p(k) > 0, k);
  assert.ok(p('shared_over_n_model_passes') > 0 && p('unshared_over_n_model_passes') > 0);
  // Ten modules of one model share at least the first convolution's input and weights.
  assert.ok(p('computations_shared') > 0 && p('computations_shared') < 1, r.stdout);
});

test('a channel removed before a batch norm stays removed after it: the norm, not the convolution, is scaled', async () => {
  // conv (linear) -> batch norm -> ReLU: the mask applies at the norm's output (plan.maskAt), and
  // a norm with a positive shift turns a zeroed convolution channel into a positive activity.
  const input = tf.input({ shape: [7, 7, 3], name: 'in' });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c' }).apply(input);
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(conv);
  const relu = tf.layers.activation({ activation: 'relu', name: 'r' }).apply(bn);
  const flat = tf.layers.flatten({ name: 'flat' }).apply(relu);
  const out = tf.layers
    .dense({ units: 3, activation: 'softmax', name: 'd' })
    .apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  randomize(model, 4);
  const beta = model.getLayer('bn').weights.find((w) => w.originalName.includes('beta'))!;
  beta.write(tf.fill([4], 1));
  const artifacts = await modelToArtifacts(model);
  const plan = planModel(artifacts);
  assert.equal(plan.maskAt['c'], 'bn');
  const masks: MaskSet = new Map([
    ['c', Float32Array.from({ length: 7 * 7 * 4 }, (_, i) => (i % 4 === 1 ? 0 : 1))],
  ]);
  const f = foldMasks(plan, masks);
  assert.deepEqual(f.folded, ['bn']);
  assert.equal(f.masks.size, 0);
  const e = (await openInference(artifacts, { engine: 'onnxruntime', preprocess: PRE })) as OrtInference;
  try {
    const r = rng(6);
    const img = new Uint8Array(20 * 7 * 7 * 3).map(() => Math.floor(r() * 256));
    const folded = await e.predictMaskedOn('folded', img, 20, masks);
    const shared = await e.predictMaskedOn('shared', img, 20, masks);
    assert.ok(maxDiff(folded, shared) < 1e-5, `folded vs masked: ${maxDiff(folded, shared)}`);
    assert.ok(maxDiff(folded, await e.predict(img, 20)) > 1e-4, 'the mask changes the output');
  } finally {
    await e.close();
  }
});
