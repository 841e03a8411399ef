import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/core/node/graph/backend.ts';
import { toInputs } from '../src/core/node/graph/inputs.ts';
import { buildResNet } from '../src/core/node/models/resnet.ts';
import { modelToArtifacts, type ModelArtifacts, type Preprocess } from '../src/core/node/models/io.ts';
import { isUserError } from '../src/core/common/errors.ts';
import {
  cachedSessionCount,
  convertToOnnx,
  describeInference,
  openInference,
  TfjsInference,
  type InferenceEngine,
  type MaskSet,
} from '../src/core/node/inference/index.ts';
import { planModel, padAxis } from '../src/core/node/graph/plan.ts';
import { overrideOrtLoader } from '../src/core/node/graph/ort.ts';
import { decodeModel } from '../src/core/node/graph/onnx-proto.ts';
import { saveTestModel } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';
import { maxDiff, randomImages, randomize, rng } from './helpers/random-weights.ts';

await initBackend('wasm');

const PRE: Preprocess & { mean: number; std: number } = { mean: 127.5, std: 64 };

const images = randomImages;

function reference(
  model: tf.LayersModel,
  img: Uint8Array,
  count: number,
  pre: Preprocess & { mean: number; std: number },
): Float32Array {
  const [h, w, c] = model.inputs[0]!.shape.slice(1) as number[];
  const x = new Float32Array(img.length).map((_, i) => (img[i]! - pre.mean) / pre.std);
  if (h === w && c === 3) x.set(toInputs(img, count, h!, pre));
  return tf.tidy(
    () => (model.predict(tf.tensor4d(x, [count, h!, w!, c!])) as tf.Tensor).dataSync() as Float32Array,
  );
}

function randomMasks(e: InferenceEngine, seed: number, keep = 0.7): MaskSet {
  const r = rng(seed);
  const masks: MaskSet = new Map();
  e.layout.maskable.forEach(({ name, shape }, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    // Alternate float and byte masks: both are accepted.
    const m = k % 2 ? new Uint8Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) m[i] = r() < keep ? 1 : 0;
    masks.set(name, m);
  });
  return masks;
}

/** Runs everything through both engines and checks they agree with each other and tfjs-layers. */
async function crossCheck(model: tf.LayersModel, count: number, label: string): Promise<void> {
  const artifacts = await modelToArtifacts(model);
  const shape = model.inputs[0]!.shape.slice(1) as number[];
  const img = images(count, shape, 7);
  const ref = reference(model, img, count, PRE);
  const ort = await openInference(artifacts, { engine: 'onnxruntime', preprocess: PRE, batchSize: 2 });
  const tfe = await openInference(artifacts, { engine: 'tfjs', preprocess: PRE, batchSize: 3 });
  assert.equal(ort.name, 'onnxruntime');
  assert.equal(tfe.name, 'tfjs');
  try {
    const po = await ort.predict(img, count);
    const pt = await tfe.predict(img, count);
    assert.ok(maxDiff(po, ref) < 1e-4, `${label}: onnxruntime vs tfjs-layers ${maxDiff(po, ref)}`);
    assert.ok(maxDiff(pt, ref) < 1e-4, `${label}: tfjs engine vs tfjs-layers ${maxDiff(pt, ref)}`);
    // All-ones masks are the plain model.
    assert.ok(maxDiff(await ort.predictMasked(img, count, new Map()), ref) < 1e-4, `${label}: ones`);
    const masks = randomMasks(ort, 11);
    const mo = await ort.predictMasked(img, count, masks);
    const mt = await tfe.predictMasked(img, count, masks);
    assert.ok(maxDiff(mo, mt) < 1e-4, `${label}: masked ${maxDiff(mo, mt)}`);
    assert.ok(maxDiff(mo, ref) > 1e-6, `${label}: masks change the output`);
    for (const point of ['conv', 'relu'] as const) {
      for (const m of [undefined, masks]) {
        const ao = await ort.observe(img, count, { point, masks: m });
        const raw = await (tfe as TfjsInference).observeMax(img, count, { point, masks: m });
        const at = await tfe.observe(img, count, { point, masks: m });
        assert.deepEqual(
          [...ao.keys()],
          ort.layout.observed[point].map((o) => o.name),
        );
        assert.deepEqual([...at.keys()], [...ao.keys()]);
        let active = 0;
        let total = 0;
        for (const [key, a] of ao) {
          const b = at.get(key)!;
          const v = raw.get(key)!;
          assert.equal(a.length, b.length, `${label} ${point} ${key}`);
          for (let i = 0; i < a.length; i++) {
            if (a[i] !== b[i])
              assert.ok(Math.abs(v[i]!) < 1e-6, `${label} ${point} ${key}[${i}]: ${a[i]} vs ${v[i]}`);
            active += a[i]!;
          }
          total += a.length;
        }
        if (total)
          assert.ok(
            active > 0 && active < total,
            `${label} ${point}: activity is non-trivial (${active}/${total})`,
          );
      }
    }
  } finally {
    await ort.close();
    await tfe.close();
  }
}

test('explicit pads match tfjs: same with stride 2 puts the extra at the bottom/right', () => {
  assert.deepEqual(padAxis(32, 3, 2, 'same'), { out: 16, before: 0, after: 1 });
  assert.deepEqual(padAxis(33, 3, 2, 'same'), { out: 17, before: 1, after: 1 });
  assert.deepEqual(padAxis(10, 4, 1, 'same'), { out: 10, before: 1, after: 2 });
  assert.deepEqual(padAxis(7, 3, 2, 'valid'), { out: 3, before: 0, after: 0 });
});

test('every supported layer: convolutions, poolings, BN, Add, Flatten, Dense, Softmax', async () => {
  const input = tf.input({ shape: [11, 9, 3], name: 'in' });
  const ap = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    l.apply(x) as tf.SymbolicTensor;
  const c1 = ap(
    tf.layers.conv2d({
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      name: 'c1',
    }),
    input,
  );
  const c2 = ap(tf.layers.conv2d({ filters: 4, kernelSize: [3, 2], padding: 'same', name: 'c2' }), c1);
  const bn = ap(tf.layers.batchNormalization({ name: 'bn' }), c2);
  const r = ap(tf.layers.activation({ activation: 'relu', name: 'r' }), bn);
  const add = ap(tf.layers.add({ name: 'add' }), [c1, r]);
  const mp = ap(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'mp' }), add);
  const avg = ap(tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'avg' }), mp);
  const c3 = ap(
    tf.layers.conv2d({ filters: 5, kernelSize: 5, strides: 2, padding: 'same', name: 'c3' }),
    avg,
  );
  const r3 = ap(tf.layers.reLU({ name: 'r3' }), c3);
  const f = ap(tf.layers.flatten({ name: 'flat' }), r3);
  const d1 = ap(tf.layers.dense({ units: 8, activation: 'relu', name: 'd1' }), f);
  const dr = ap(tf.layers.dropout({ rate: 0.5, name: 'drop' }), d1);
  const d2 = ap(tf.layers.dense({ units: 4, name: 'd2' }), dr);
  const out = ap(tf.layers.softmax({ name: 'sm' }), d2);
  const m = tf.model({ inputs: input, outputs: out });
  randomize(m, 1);
  await crossCheck(m, 5, 'layers A');

  // Valid padding with odd sizes and stride 2/3, global poolings, Add on flat tensors.
  const i2 = tf.input({ shape: [13, 10, 3], name: 'in2' });
  const v1 = ap(
    tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'valid', name: 'v1' }),
    i2,
  );
  const v1r = ap(tf.layers.activation({ activation: 'relu', name: 'v1r' }), v1);
  const v2 = ap(
    tf.layers.conv2d({
      filters: 6,
      kernelSize: 3,
      strides: 3,
      padding: 'same',
      activation: 'relu',
      name: 'v2',
    }),
    v1r,
  );
  const p2 = ap(
    tf.layers.averagePooling2d({ poolSize: [3, 2], strides: 2, padding: 'valid', name: 'p2' }),
    v1r,
  );
  const mp2 = ap(tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid', name: 'mp2' }), v1r);
  const gap = ap(tf.layers.globalAveragePooling2d({ name: 'gap' }), v2);
  const gmp = ap(tf.layers.globalMaxPooling2d({ name: 'gmp' }), p2);
  const gap2 = ap(tf.layers.globalAveragePooling2d({ name: 'gap2' }), mp2);
  const sum = ap(tf.layers.add({ name: 'sum' }), [gap, gmp, gap2]);
  const bn2 = ap(tf.layers.batchNormalization({ name: 'bn2', center: false }), sum);
  const o2 = ap(tf.layers.dense({ units: 3, activation: 'softmax', name: 'o2' }), bn2);
  const m2 = tf.model({ inputs: i2, outputs: o2 });
  randomize(m2, 2);
  await crossCheck(m2, 4, 'layers B');
});

test('same padding with a stride larger than the kernel matches a direct convolution', async () => {
  // tfjs-backend-wasm returns zeros for this convolution; check both engines against plain JS.
  const i = tf.input({ shape: [6, 4, 2], name: 'i' });
  const c = tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 3, padding: 'same', name: 'c' }).apply(i);
  const m = tf.model({ inputs: i, outputs: tf.layers.flatten({ name: 'f' }).apply(c) as tf.SymbolicTensor });
  randomize(m, 4);
  const a = await modelToArtifacts(m);
  assert.deepEqual(planModel(a).nodes[1]!.pads, [0, 0, 0, 1]);
  const img = images(2, [6, 4, 2], 5);
  const k = m.getLayer('c').getWeights()[0]!.dataSync();
  const b = m.getLayer('c').getWeights()[1]!.dataSync();
  const want = new Float32Array(2 * 2 * 2 * 3);
  for (let n = 0; n < 2; n++)
    for (let oy = 0; oy < 2; oy++)
      for (let ox = 0; ox < 2; ox++)
        for (let o = 0; o < 3; o++) {
          let sum = b[o]!;
          for (let ky = 0; ky < 2; ky++)
            for (let kx = 0; kx < 2; kx++) {
              const y = oy * 3 + ky;
              const x = ox * 3 + kx; // pads: top 0, left 0 (the extra column is on the right)
              if (y >= 6 || x >= 4) continue;
              for (let ci = 0; ci < 2; ci++) {
                const p = (img[((n * 6 + y) * 4 + x) * 2 + ci]! - PRE.mean) / PRE.std;
                sum += p * k[((ky * 2 + kx) * 2 + ci) * 3 + o]!;
              }
            }
          want[((n * 2 + oy) * 2 + ox) * 3 + o] = sum;
        }
  for (const engine of ['onnxruntime', 'tfjs'] as const) {
    const e = await openInference(a, { engine, preprocess: PRE });
    assert.ok(maxDiff(await e.predict(img, 2), want) < 1e-4, engine);
    await e.close();
  }
});

test('a Sequential model converts too', async () => {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 3, kernelSize: 3, activation: 'relu', name: 's1' }),
      tf.layers.flatten({ name: 'sf' }),
      tf.layers.dense({ units: 5, activation: 'relu', name: 's2' }),
      tf.layers.dense({ units: 2, activation: 'softmax', name: 's3' }),
    ],
  });
  randomize(m, 3);
  await crossCheck(m, 3, 'sequential');
});

for (const [depth, bn] of [
  [20, false],
  [32, true],
  [56, false],
] as const) {
  test(`ResNet-${depth}${bn ? ' with BN' : ''}: both engines agree, with and without masks`, async () => {
    const m = buildResNet({ depth, inputSize: 32, classes: 10, batchNorm: bn, seed: depth });
    randomize(m, depth);
    await crossCheck(m, 3, `ResNet-${depth}`);
    m.dispose();
  });
}

test('layers the engines cannot run are refused, naming the layer', async () => {
  const cases: [string, () => tf.LayersModel][] = [
    [
      'up',
      () => {
        const i = tf.input({ shape: [8, 8, 3] });
        const o = tf.layers
          .conv2dTranspose({ filters: 2, kernelSize: 3, name: 'up' })
          .apply(i) as tf.SymbolicTensor;
        return tf.model({ inputs: i, outputs: tf.layers.flatten().apply(o) as tf.SymbolicTensor });
      },
    ],
    [
      'lstm',
      () => {
        const i = tf.input({ shape: [5, 4] });
        const o = tf.layers.lstm({ units: 3, name: 'lstm' }).apply(i) as tf.SymbolicTensor;
        return tf.model({ inputs: i, outputs: o });
      },
    ],
    [
      'dil',
      () => {
        const i = tf.input({ shape: [8, 8, 3] });
        const o = tf.layers
          .conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, name: 'dil' })
          .apply(i) as tf.SymbolicTensor;
        return tf.model({ inputs: i, outputs: tf.layers.flatten().apply(o) as tf.SymbolicTensor });
      },
    ],
  ];
  for (const [name, build] of cases) {
    const a = await modelToArtifacts(build());
    for (const engine of ['auto', 'tfjs'] as const) {
      await assert.rejects(openInference(a, { engine }), (e: unknown) => {
        assert.ok(isUserError(e), String(e));
        assert.match((e as Error).message, new RegExp(`"${name}"`));
        return true;
      });
    }
  }
});

test('auto picks onnxruntime, forcing tfjs says why; sessions are shared per model and released', async () => {
  const m = buildResNet({ depth: 8, inputSize: 16, classes: 3, seed: 5 });
  randomize(m, 5);
  const a: ModelArtifacts = await modelToArtifacts(m);
  const before = cachedSessionCount();
  const e1 = await openInference(a, { threads: 1, batchSize: 64 });
  assert.equal(e1.report.active, 'onnxruntime');
  assert.equal(e1.report.threads, 1);
  assert.deepEqual(
    e1.report.candidates.map((c) => [c.name, c.ok]),
    [
      ['onnxruntime', true],
      ['tfjs', false],
    ],
  );
  const e2 = await openInference(a, { threads: 1 });
  assert.equal(cachedSessionCount(), before + 1, 'the second engine reuses the first one’s session');
  const img = images(4, [16, 16, 3], 9);
  await e2.predictMasked(img, 4, new Map());
  assert.equal(cachedSessionCount(), before + 2);
  await e1.close();
  assert.equal(cachedSessionCount(), before + 2, 'still held by e2');
  await e2.close();
  assert.equal(cachedSessionCount(), before, 'released with the last engine');

  const e3 = await openInference(a, { threads: 1 });
  const first = e3.layout.maskable[0]!;
  const size = first.shape.reduce((x, y) => x * y, 1);
  await assert.rejects(e3.predictMasked(img, 4, new Map([['nope', new Float32Array(1)]])), /nope/);
  await assert.rejects(
    e3.predictMasked(img, 4, new Map([[first.name, new Float32Array(size - 1)]])),
    /values/,
  );
  await assert.rejects(
    e3.predictMasked(img, 4, new Map([[first.name, new Float32Array(size).fill(-1)]])),
    /negative/,
  );
  await e3.close();

  const t = await openInference(a, { engine: 'tfjs' });
  assert.equal(t.report.active, 'tfjs');
  assert.equal(t.report.forced, 'tfjs');
  assert.equal(t.report.tfjsBackend, 'wasm');
  assert.match(t.report.candidates[0]!.reason!, /forced/);
  await t.close();

  // A model folder brings its own preprocessing.
  const dir = path.join(tempDir('inference'), 'm');
  const pre = { mean: 100, std: 50 };
  await saveTestModel(dir, a, {
    inputSize: 16,
    classes: 3,
    classNames: ['a', 'b', 'c'],
    datasetId: 'test',
    preprocess: pre,
  });
  const fromDir = await openInference(dir);
  assert.deepEqual(fromDir.layout.preprocess, pre);
  assert.ok(maxDiff(await fromDir.predict(img, 4), reference(m, img, 4, pre)) < 1e-4);
  await fromDir.close();
  await assert.rejects(fromDir.predict(img, 4), /closed/);
});

test('the ONNX graph is a valid ModelProto with mask inputs and activity outputs', async () => {
  const m = buildResNet({ depth: 8, inputSize: 16, classes: 3 });
  const plan = planModel(await modelToArtifacts(m));
  const decoded = decodeModel(convertToOnnx(plan, { preprocess: PRE, masks: true, observe: 'relu' })) as {
    irVersion: number;
    opsetImport: { version: number }[];
    graph: { input: { name: string }[]; output: { name: string }[] };
  };
  assert.equal(decoded.irVersion, 8);
  assert.equal(decoded.opsetImport[0]!.version, 17);
  const inputs = decoded.graph.input.map((i) => i.name);
  assert.equal(inputs[0], 'pixels');
  assert.deepEqual(
    inputs.slice(1),
    plan.maskable.map((x) => `mask/${x.name}`),
  );
  assert.deepEqual(
    decoded.graph.output.map((o) => o.name),
    plan.observed.relu.map((x) => `active/${x.name}`),
  );
  // conv point: every convolution (ResNet-8 has 9 with its 2 shortcuts); the softmax dense is not hidden.
  assert.equal(plan.observed.conv.length, 9);
  assert.equal(plan.maskable.length, 10);
});

test('where onnxruntime-node cannot load, auto falls back to tfjs and says why', async () => {
  const m = buildResNet({ depth: 8, inputSize: 16, classes: 3, seed: 6 });
  const a = await modelToArtifacts(m);
  overrideOrtLoader(() => Promise.reject(new Error("Cannot find module 'onnxruntime-node'")));
  try {
    const e = await openInference(a, { engine: 'auto' });
    assert.equal(e.name, 'tfjs');
    assert.deepEqual(e.report.candidates[0], {
      name: 'onnxruntime',
      ok: false,
      reason: 'onnxruntime-node is not installed',
    });
    assert.match(describeInference(e.report), /^tfjs\/wasm — onnxruntime: onnxruntime-node is not installed/);
    await e.close();
    await assert.rejects(openInference(a, { engine: 'onnxruntime' }), (err: unknown) => {
      assert.ok(isUserError(err));
      assert.equal((err as { code: string }).code, 'no-inference');
      return true;
    });
  } finally {
    overrideOrtLoader(null);
  }
});
