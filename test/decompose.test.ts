// Decomposition on a tiny model whose maps can be written down by hand: a 1x1 ReLU conv,
// then two branches (3x3 stride 2 'same', and a 1x1 stride 2 shortcut) into an Add, a
// ReLU, 2x2 average pooling, Flatten and a softmax head over 3 classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ImageSet } from '../src/core/common/dataset.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { decodeModel } from '../src/core/node/graph/onnx-proto.ts';
import { modelToArtifacts, type ModelArtifacts } from '../src/core/node/models/io.ts';
import { createCoreApi } from '../src/core/node/api.ts';
import { decomposeSettings } from '../src/cli/models.ts';
import {
  analyzeGraph,
  channelHead,
  composedAccuracy,
  composedScores,
  concernedProbability,
  decompose,
  deleteModuleSet,
  composedOnnx,
  exportPortable,
  exportRemoved,
  formatTable1,
  headRemovals,
  listModuleSets,
  loadModuleSet,
  meanJaccard,
  meanPairwiseJaccard,
  moduleOnnx,
  onesOf,
  saveModuleSet,
  table1,
  type ModuleSet,
} from '../src/core/node/decompose/index.ts';
import { saveTestModel } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

const PRE = { mean: 0, std: 1 };

async function tinyModel(): Promise<ModelArtifacts> {
  const input = tf.input({ shape: [4, 4, 3], name: 'input' });
  const c0 = tf.layers.conv2d({ filters: 1, kernelSize: 1, padding: 'same', activation: 'relu', name: 'c0' });
  const a = tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', name: 'a' });
  const b = tf.layers.conv2d({ filters: 2, kernelSize: 1, strides: 2, padding: 'same', name: 'b' });
  const x = c0.apply(input) as tf.SymbolicTensor;
  const s = tf.layers.add({ name: 's' }).apply([a.apply(x), b.apply(x)] as tf.SymbolicTensor[]);
  const r = tf.layers.activation({ activation: 'relu', name: 'r' }).apply(s);
  const p = tf.layers.averagePooling2d({ poolSize: 2, name: 'p' }).apply(r);
  const f = tf.layers.flatten({ name: 'f' }).apply(p);
  const head = tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' });
  const model = tf.model({ inputs: input, outputs: head.apply(f) as tf.SymbolicTensor });
  // c0 = relu(pixel[ch0] + 1): active everywhere.
  c0.setWeights([tf.tensor4d([1, 0, 0], [1, 1, 3, 1]), tf.tensor1d([1])]);
  // a: centre tap only: a0 = c0(centre) - 1 = pixel, a1 = 1 - c0(centre) = -pixel.
  const ak = new Float32Array(3 * 3 * 1 * 2);
  ak[(1 * 3 + 1) * 2 + 0] = 1;
  ak[(1 * 3 + 1) * 2 + 1] = -1;
  a.setWeights([tf.tensor4d(ak, [3, 3, 1, 2]), tf.tensor1d([-1, 1])]);
  // b: b0 = pixel(2y, 2x) - 0.5, b1 = pixel(2y, 2x).
  b.setWeights([tf.tensor4d([1, 1], [1, 1, 1, 2]), tf.tensor1d([-1.5, -1])]);
  head.setWeights([tf.tensor2d([1, 0, 0, -1, 1, 1], [2, 3]), tf.tensor1d([0, 0.1, 0.2])]);
  const art = await modelToArtifacts(model);
  model.dispose();
  return art;
}

/** Class 0 lights pixel (1,1), class 1 pixel (3,3), class 2 pixel (0,0); two images each. */
function tinyData(): ImageSet {
  const per = 4 * 4 * 3;
  const spots = [5, 15, 0];
  const images = new Uint8Array(6 * per);
  const labels = new Int32Array(6);
  for (let i = 0; i < 6; i++) {
    labels[i] = i % 3;
    images[i * per + spots[i % 3]! * 3] = 10;
  }
  return { images, labels, count: 6, size: 4 };
}

/** Table 1 of the tiny model on the tiny data (2 concerned and 2 unconcerned per class). */
async function tinyTable1(
  art: ModelArtifacts,
  opts: Omit<Parameters<typeof table1>[4], 'perClass' | 'unconcerned' | 'seed'>,
): Promise<Awaited<ReturnType<typeof table1>>> {
  const engine = await openInference(art, { preprocess: PRE });
  try {
    const data = tinyData();
    return await table1(engine, planModel(art), data, data, {
      perClass: 2,
      unconcerned: 2,
      seed: 1,
      ...opts,
    });
  } finally {
    await engine.close();
  }
}

async function run(opts: Parameters<typeof decompose>[3], model?: ModelArtifacts): Promise<ModuleSet[]> {
  const art = model ?? (await tinyModel());
  const engine = await openInference(art, { preprocess: PRE });
  try {
    return await decompose(engine, planModel(art), tinyData(), {
      perClass: 2,
      seed: 1,
      point: 'conv',
      ...opts,
    });
  } finally {
    await engine.close();
  }
}

const removed = (set: ModuleSet, c: number, layer: string) => onesOf(set.modules[c]!.removed.get(layer)!);

test('CI alone (no unconcerned images) keeps exactly what each class activates', async () => {
  const [set] = await run({ unconcerned: 0, approaches: ['CI+TI+MC'] });
  // a is [2,2,2]: a0 is active at (0,0) for class 0 and (1,1) for class 1; a1 never.
  assert.deepEqual(removed(set!, 0, 'a'), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(removed(set!, 1, 'a'), [0, 1, 2, 3, 4, 5, 7]);
  assert.deepEqual(removed(set!, 2, 'a'), [0, 1, 2, 3, 4, 5, 6, 7]);
  // b0 = -0.5 and b1 = 0 except under class 2's pixel (0,0).
  assert.deepEqual(removed(set!, 0, 'b'), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(removed(set!, 2, 'b'), [2, 3, 4, 5, 6, 7]);
  assert.deepEqual(removed(set!, 0, 'c0'), []);
  assert.equal(set!.k, 0);
});

test('TI brings back what the other classes activate; MC-BLN and MC-BI backtrack by hand', async () => {
  const [mc, bln, bi] = await run({
    unconcerned: 2,
    approaches: ['CI+TI+MC', 'CI+TI+MC-BLN', 'CI+TI+MC-BLN+MC-BI'],
  });
  assert.equal(mc!.k, 1);
  for (let c = 0; c < 3; c++) {
    assert.deepEqual(removed(mc!, c, 'a'), [1, 2, 3, 4, 5, 7]);
    assert.deepEqual(removed(mc!, c, 'b'), [2, 3, 4, 5, 6, 7]);
    assert.deepEqual(removed(mc!, c, 'c0'), []);
    assert.deepEqual([...mc!.modules[c]!.head.keep], [1, 1]);
  }
  // Head W = [[1, 0, 0], [-1, 1, 1]]. Module 0: wc = [1, -1], wuc = [0, 1]: feature 1 serves
  // only the unconcerned node. Modules 1, 2: wc = [0, 1], wuc = [0.5, 0]: feature 0 does.
  assert.deepEqual([...bln!.modules[0]!.head.keep], [1, 0]);
  assert.deepEqual([...bln!.modules[1]!.head.keep], [0, 1]);
  // Module 0: feature 1 = pooled channel 1 -> all four positions of r's channel 1 -> both
  // inputs of the Add: a and b at (y, x, 1).
  assert.deepEqual(removed(bln!, 0, 'a'), [1, 2, 3, 4, 5, 7]);
  assert.deepEqual(removed(bln!, 0, 'b'), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(removed(bln!, 0, 'c0'), []);
  // Module 1: channel 0 goes: a and b lose (y, x, 0) as well.
  assert.deepEqual(removed(bln!, 1, 'a'), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(removed(bln!, 1, 'b'), [0, 2, 3, 4, 5, 6, 7]);
  // MC-BI, module 0: a's outputs (0,1) and (1,0) are gone in both channels, b's outputs
  // (0,1), (1,0), (1,1). A c0 position is removed when every a window (3x3, stride 2,
  // pads top/left 0) and every b window (1x1, stride 2) containing it is gone:
  // (0,3), (1,3), (3,0), (3,1).
  assert.deepEqual(removed(bi!, 0, 'c0'), [3, 7, 12, 13]);
  assert.deepEqual(removed(bi!, 0, 'a'), removed(bln!, 0, 'a'));
  // Module 1: all of a and all of b but (0,0,1) are gone: only c0 positions read by b at
  // (0,0) stay: (0,0).
  assert.deepEqual(removed(bi!, 1, 'c0'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  // Subsets: modules only remove; JI = kept / total.
  for (const set of [mc!, bln!, bi!]) {
    for (const m of set.modules) {
      assert.equal(m.total, 16 + 8 + 8);
      assert.equal(m.ji, m.kept / m.total);
      for (const [name, f] of m.forced) {
        const r = m.removed.get(name)!;
        f.forEach((v, i) => assert.ok(!v || r[i], `${name}[${i}] forced but not removed`));
      }
    }
  }
  for (let c = 0; c < 3; c++) assert.ok(bi!.modules[c]!.kept <= bln!.modules[c]!.kept);
});

/**
 * MC-BI's window rule on one convolution whose every output CI removes (zero weights, bias
 * -1: never positive) over an always-active 1x1 layer c0 (its only consumer): c0 positions
 * in some window of the convolution go; those in none stay.
 */
async function windowGeometry(
  side: number,
  conv: { kernelSize: number; strides: number; padding: 'valid' | 'same' },
): Promise<number[]> {
  const input = tf.input({ shape: [side, side, 3], name: 'input' });
  const c0 = tf.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'relu', name: 'c0' });
  const a = tf.layers.conv2d({ filters: 2, name: 'a', ...conv });
  const r = tf.layers.activation({ activation: 'relu', name: 'r' }).apply(a.apply(c0.apply(input)));
  const p = tf.layers.globalAveragePooling2d({ name: 'p' }).apply(r);
  const head = tf.layers.dense({ units: 2, activation: 'softmax', name: 'head' });
  const model = tf.model({ inputs: input, outputs: head.apply(p) as tf.SymbolicTensor });
  c0.setWeights([tf.zeros([1, 1, 3, 1]), tf.tensor1d([1])]);
  a.setWeights([tf.zeros([conv.kernelSize, conv.kernelSize, 1, 2]), tf.tensor1d([-1, -1])]);
  const art = await modelToArtifacts(model);
  model.dispose();
  const per = side * side * 3;
  const data: ImageSet = {
    images: new Uint8Array(4 * per),
    labels: Int32Array.of(0, 1, 0, 1),
    count: 4,
    size: side,
  };
  const engine = await openInference(art, { preprocess: PRE });
  try {
    const [set] = await decompose(engine, planModel(art), data, {
      perClass: 2,
      seed: 1,
      point: 'conv',
      approaches: ['CI+TI+MC-BLN+MC-BI'],
    });
    const m = set!.modules[0]!;
    assert.equal(
      onesOf(m.removed.get('a')!).length,
      m.removed.get('a')!.length,
      'every output of a is removed',
    );
    assert.deepEqual(onesOf(m.removed.get('c0')!), onesOf(set!.modules[1]!.removed.get('c0')!));
    return onesOf(m.removed.get('c0')!);
  } finally {
    await engine.close();
  }
}

const grid = (side: number, rows: number[], cols: number[]) =>
  rows.flatMap((y) => cols.map((x) => y * side + x));

test('MC-BI keeps positions no window reads: valid padding cut-off, stride larger than the kernel', async () => {
  // 5x5, 2x2 stride 2 valid: windows cover rows and columns 0-3; row 4 and column 4 stay.
  assert.deepEqual(
    await windowGeometry(5, { kernelSize: 2, strides: 2, padding: 'valid' }),
    grid(5, [0, 1, 2, 3], [0, 1, 2, 3]),
  );
  // 7x7, 2x2 stride 3 valid: windows at 0-1 and 3-4; 2, 5 and 6 are skipped or cut off.
  assert.deepEqual(
    await windowGeometry(7, { kernelSize: 2, strides: 3, padding: 'valid' }),
    grid(7, [0, 1, 3, 4], [0, 1, 3, 4]),
  );
  // 6x6, 1x1 stride 2 same (a ResNet's projection shortcut): only the even positions are read.
  assert.deepEqual(
    await windowGeometry(6, { kernelSize: 1, strides: 2, padding: 'same' }),
    grid(6, [0, 2, 4], [0, 2, 4]),
  );
  // 5x5, 3x3 stride 1 same: every position is in a window, so all go.
  assert.deepEqual(
    await windowGeometry(5, { kernelSize: 3, strides: 1, padding: 'same' }),
    grid(5, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]),
  );
});

test('the Jaccard index both ways: each module against the model, and module against module', async () => {
  const [mc, bln] = await run({ unconcerned: 2, approaches: ['CI+TI+MC', 'CI+TI+MC-BLN'] });
  // MC: every module removes the same 6 of a's and 6 of b's 32 positions: 20/32 kept, and
  // any two modules keep exactly the same positions.
  assert.equal(meanJaccard(mc!), 20 / 32);
  assert.equal(meanPairwiseJaccard(mc!), 1);
  // MC-BLN (removals above): module 0 keeps c0's 16, a's (0,0,0) and (1,1,0), b's (0,0,0);
  // modules 1 and 2 keep c0's 16 and b's (0,0,1). Pairs: 16/20, 16/20, 17/17.
  for (const c of [1, 2]) assert.deepEqual(removed(bln!, c, 'b'), [0, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(removed(bln!, 2, 'a'), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.ok(Math.abs(meanPairwiseJaccard(bln!) - (0.8 + 0.8 + 1) / 3) < 1e-12);
  assert.ok(Math.abs(meanJaccard(bln!) - (19 + 17 + 17) / 3 / 32) < 1e-12);
});

test('activity at ReLU inputs masks both convolutions of an Add', async () => {
  const [set] = await run({ unconcerned: 2, point: 'relu', approaches: ['CI+TI+MC'] });
  // r's input = a + b is > 0 at (0,0,0), (0,0,1) and (1,1,0) only.
  for (let c = 0; c < 3; c++) {
    assert.deepEqual(removed(set!, c, 'a'), [2, 3, 4, 5, 7]);
    assert.deepEqual(removed(set!, c, 'b'), [2, 3, 4, 5, 7]);
    assert.deepEqual(removed(set!, c, 'c0'), []);
  }
});

test('conv-skip-add: Conv2D outputs observed, the convolutions that feed an Add left unmasked; three points side by side', async () => {
  const art = await tinyModel();
  assert.deepEqual([...analyzeGraph(planModel(art)).feedsAdd].sort(), ['a', 'b']);
  const [skip] = await run({ unconcerned: 2, point: 'conv-skip-add', approaches: ['CI+TI+MC'] });
  assert.equal(skip!.point, 'conv-skip-add');
  for (let c = 0; c < 3; c++) {
    assert.deepEqual(removed(skip!, c, 'a'), []);
    assert.deepEqual(removed(skip!, c, 'b'), []);
  }
  // All three points from one call: point-major, each point as it is alone ('conv' and
  // 'conv-skip-add' share one observation pass).
  const sets = await run({
    unconcerned: 2,
    points: ['relu', 'conv', 'conv-skip-add'],
    approaches: ['CI+TI+MC', 'CI+TI+MC-BLN'],
  });
  assert.deepEqual(
    sets.map((x) => `${x.point} ${x.approach}`),
    [
      'relu CI+TI+MC',
      'relu CI+TI+MC-BLN',
      'conv CI+TI+MC',
      'conv CI+TI+MC-BLN',
      'conv-skip-add CI+TI+MC',
      'conv-skip-add CI+TI+MC-BLN',
    ],
  );
  for (const point of ['relu', 'conv', 'conv-skip-add'] as const) {
    const [alone] = await run({ unconcerned: 2, point, approaches: ['CI+TI+MC'] });
    const within = sets.find((x) => x.point === point && x.approach === 'CI+TI+MC')!;
    for (let c = 0; c < 3; c++)
      for (const [k, v] of alone!.modules[c]!.removed)
        assert.deepEqual(within.modules[c]!.removed.get(k), v, `${point} ${k}`);
  }
  const t = await tinyTable1(art, { points: ['relu', 'conv', 'conv-skip-add'], approaches: ['CI+TI+MC'] });
  assert.deepEqual(
    t.rows.map((r) => r.point),
    ['relu', 'conv', 'conv-skip-add'],
  );
  const text = formatTable1(t, 'tiny').split('\n');
  assert.match(text[0]!, /relu .*\| .*conv .*\| .*conv-skip-add/);
  assert.equal(text.filter((l) => l.startsWith('CI+TI+MC ')).length, 1, 'one line per approach');
  assert.match(text.at(-1)!, /JI model: .* JI modules: /);
});

/**
 * The graph rules onnx.checker enforces that the converter follows: single assignment (every
 * value produced once), topological order (every input produced earlier, an initializer or a
 * graph input), unique initializers, and produced outputs.
 */
function checkGraph(bytes: Uint8Array): void {
  const g = (
    decodeModel(bytes) as {
      graph: {
        node: { input: string[]; output: string[]; opType: string }[];
        initializer: { name: string }[];
        input: { name: string }[];
        output: { name: string }[];
      };
    }
  ).graph;
  const known = new Set<string>();
  for (const x of [...g.input.map((i) => i.name), ...g.initializer.map((i) => i.name)]) {
    assert.ok(!known.has(x), `${x} defined twice`);
    known.add(x);
  }
  for (const n of g.node) {
    for (const i of n.input) assert.ok(known.has(i), `${n.opType} reads ${i} before it is produced`);
    for (const o of n.output) {
      assert.ok(!known.has(o), `${o} produced twice`);
      known.add(o);
    }
  }
  for (const o of g.output) assert.ok(known.has(o.name), `output ${o.name} is never produced`);
}

test('portable modules: each exported ONNX module, and the composed classifier, give the composition’s probabilities', async () => {
  const art = await tinyModel();
  const plan = planModel(art);
  const { default: ort } = await import('onnxruntime-node');
  const data = tinyData();
  const engine = await openInference(art, { preprocess: PRE });
  try {
    const sets = await decompose(engine, plan, data, {
      perClass: 2,
      unconcerned: 2,
      seed: 1,
      point: 'conv',
      approaches: ['CI+TI+MC', 'CI+TI+MC-BLN+MC-BI'],
    });
    for (const set of sets) {
      const dir = path.join(tempDir('portable'), 'out');
      const r = await exportPortable(set, plan, PRE, dir);
      assert.equal(r.modules.length, 3);
      for (const f of [...r.modules.map((m) => m.file), r.composed.file]) checkGraph(await readFile(f));
      const want = await composedScores([{ engine, set }], data.images, data.count, { exact: true });
      const pixels = new ort.Tensor('uint8', data.images, [data.count, 4, 4, 3]);
      for (const [j, m] of r.modules.entries()) {
        const session = await ort.InferenceSession.create(m.file);
        assert.deepEqual(session.inputNames, ['pixels']);
        assert.deepEqual(session.outputNames, ['probability']);
        const got = (await session.run({ pixels })).probability!.data as Float32Array;
        for (let i = 0; i < data.count; i++)
          assert.ok(
            Math.abs(got[i]! - want.scores[i * 3 + j]!) < 1e-5,
            `${set.approach} module ${j} image ${i}: ${got[i]} vs ${want.scores[i * 3 + j]}`,
          );
        await session.release();
      }
      const composed = await ort.InferenceSession.create(r.composed.file);
      const outputs = await composed.run({ pixels });
      const all = outputs.probabilities!;
      assert.deepEqual(all.dims, [data.count, 3]);
      (all.data as Float32Array).forEach((v, k) => assert.ok(Math.abs(v - want.scores[k]!) < 1e-5));
      // The ranking Decomposer's composition uses (log-odds: confident probabilities tie at 1).
      const odds = outputs.log_odds!;
      assert.deepEqual(odds.dims, [data.count, 3]);
      (odds.data as Float32Array).forEach((v, k) =>
        assert.ok(Math.abs(v - want.margins[k]!) < 1e-4 * (1 + Math.abs(want.margins[k]!)), `log-odds ${k}`),
      );
      await composed.release();
      const index = JSON.parse(await readFile(path.join(dir, 'portable.json'), 'utf8')) as {
        composed: { classes: string[] };
      };
      assert.deepEqual(index.composed.classes, ['0', '1', '2']);
      // Exporting again replaces the export; a folder with other files is refused untouched.
      await exportPortable(set, plan, PRE, dir);
      const other = tempDir('portable');
      await writeFile(path.join(other, 'mine.txt'), 'keep me');
      await assert.rejects(
        exportPortable(set, plan, PRE, other),
        (e) => isUserError(e) && e.code === 'not-empty',
      );
      assert.equal(await readFile(path.join(other, 'mine.txt'), 'utf8'), 'keep me');
    }
  } finally {
    await engine.close();
  }
});

test('the app exports a saved module set of a model folder as portable ONNX models', async () => {
  const art = await tinyModel();
  const plan = planModel(art);
  const root = tempDir('portable-api');
  const modelDir = path.join(root, 'model');
  await saveTestModel(modelDir, art, {
    inputSize: 4,
    classes: 3,
    classNames: ['a', 'b', 'c'],
    datasetId: 'tiny',
    preprocess: PRE,
  });
  const engine = await openInference(art, { preprocess: PRE });
  let setDir: string;
  try {
    const [set] = await decompose(engine, plan, tinyData(), {
      perClass: 2,
      seed: 1,
      point: 'conv',
      approaches: ['CI+TI+MC'],
    });
    setDir = await saveModuleSet(modelDir, set!);
  } finally {
    await engine.close();
  }
  const api = createCoreApi({ home: path.join(root, 'home') });
  try {
    const r = await api.exportModulesOnnx(setDir, path.join(root, 'onnx'));
    assert.deepEqual(
      r.modules.map((m) => path.basename(m.file)),
      ['module-0-0.onnx', 'module-1-1.onnx', 'module-2-2.onnx'],
    );
    for (const f of [...r.modules.map((m) => m.file), r.composed.file])
      assert.ok((await readFile(f)).byteLength > 100, f);
    await assert.rejects(
      api.exportModulesOnnx(setDir, ''),
      (e) => isUserError(e) && e.code === 'bad-request',
    );
  } finally {
    await api.close();
  }
});

test('a single module’s export drops the channels it removes everywhere (conv to conv), with the same outputs', async () => {
  // c1 has 4 channels; channels 1 and 3 never fire (zero weights, bias -1), so CI removes
  // them at every position, and they only reach c2: the module file leaves them out.
  const input = tf.input({ shape: [6, 6, 3], name: 'input' });
  const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' });
  const c2 = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2' });
  const p = tf.layers.globalAveragePooling2d({ name: 'p' }).apply(c2.apply(c1.apply(input)));
  const head = tf.layers.dense({ units: 2, activation: 'softmax', name: 'head' });
  const model = tf.model({ inputs: input, outputs: head.apply(p) as tf.SymbolicTensor });
  const k1 = tf.randomNormal([3, 3, 3, 4], 0, 0.2, 'float32', 5).arraySync() as number[][][][];
  for (const a of k1) for (const b of a) for (const c of b) c[1] = c[3] = 0;
  c1.setWeights([tf.tensor4d(k1), tf.tensor1d([0.5, -1, 0.5, -1])]);
  c2.setWeights([tf.randomNormal([3, 3, 4, 3], 0, 0.3, 'float32', 6), tf.tensor1d([0.1, 0.1, 0.1])]);
  const art = await modelToArtifacts(model);
  model.dispose();
  const plan = planModel(art);
  const per = 6 * 6 * 3;
  const images = new Uint8Array(8 * per);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 251;
  const data: ImageSet = { images, labels: Int32Array.of(0, 1, 0, 1, 0, 1, 0, 1), count: 8, size: 6 };
  const engine = await openInference(art, { preprocess: PRE });
  try {
    const [set] = await decompose(engine, plan, data, {
      perClass: 4,
      seed: 1,
      point: 'conv',
      approaches: ['CI+TI+MC'],
    });
    const m = set!.modules[0]!;
    const r1 = m.removed.get('c1')!;
    for (const ch of [1, 3]) for (let q = 0; q < 36; q++) assert.equal(r1[q * 4 + ch], 1);
    const bytes = moduleOnnx(plan, PRE, m);
    checkGraph(bytes);
    const kernel = (b: Uint8Array, name: string) =>
      (decodeModel(b) as { graph: { initializer: { name: string; dims: unknown[] }[] } }).graph.initializer
        .find((x) => x.name === name)!
        .dims.map(Number);
    // Kernels in the plan's layout, [kh, kw, in, out].
    assert.deepEqual(kernel(bytes, 'w/c1/kernel'), [3, 3, 3, 2], 'c1 writes 2 of its 4 channels');
    assert.deepEqual(kernel(bytes, 'w/c2/kernel'), [3, 3, 2, 3], 'c2 reads those 2');
    // The composed classifier keeps every channel (its module passes share the weights).
    assert.deepEqual(kernel(composedOnnx(plan, PRE, set!), 'w/c1/kernel'), [3, 3, 3, 4]);
    const { default: ort } = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(bytes);
    const got = (await session.run({ pixels: new ort.Tensor('uint8', images, [8, 6, 6, 3]) })).probability!
      .data as Float32Array;
    await session.release();
    const want = await composedScores([{ engine, set: set! }], images, 8, { exact: true });
    for (let i = 0; i < 8; i++)
      assert.ok(Math.abs(got[i]! - want.scores[i * 2]!) < 1e-5, `${got[i]} vs ${want.scores[i * 2]}`);
  } finally {
    await engine.close();
  }
});

test('MC-BLN variants from one call: each rule and δ is a set of its own, MC once; Table 1 names them', async () => {
  const sets = await run({
    unconcerned: 2,
    approaches: ['CI+TI+MC', 'CI+TI+MC-BLN'],
    variants: [
      { rule: 'prose', delta: 0.5 },
      { rule: 'algorithm2', delta: 0.5 },
    ],
  });
  assert.deepEqual(
    sets.map((x) => `${x.approach} ${x.rule} ${x.delta}`),
    ['CI+TI+MC prose 0.5', 'CI+TI+MC-BLN prose 0.5', 'CI+TI+MC-BLN algorithm2 0.5'],
  );
  // Module 0: wc = [1, -1], wuc = [0, 1]: the prose rule drops feature 1, Algorithm 2 nothing.
  assert.deepEqual([...sets[1]!.modules[0]!.head.keep], [1, 0]);
  assert.deepEqual([...sets[2]!.modules[0]!.head.keep], [1, 1]);
  const art = await tinyModel();
  const t = await tinyTable1(art, {
    approaches: ['CI+TI+MC', 'CI+TI+MC-BLN'],
    variants: [
      { rule: 'prose', delta: 0.5 },
      { rule: 'prose', delta: 0.1 },
    ],
  });
  const text = formatTable1(t, 'tiny');
  assert.match(text, /^CI\+TI\+MC-BLN prose δ 0\.5 /m);
  assert.match(text, /^CI\+TI\+MC-BLN prose δ 0\.1 /m);
  assert.match(text, /^CI\+TI\+MC {2,}/m);
  // The command line: lists for Table 1 only.
  const v = { rule: 'prose,algorithm2', delta: '0.5,0.1' };
  assert.deepEqual(decomposeSettings(v, { allPoints: true }).variants, [
    { rule: 'prose', delta: 0.5 },
    { rule: 'prose', delta: 0.1 },
    { rule: 'algorithm2', delta: 0.5 },
    { rule: 'algorithm2', delta: 0.1 },
  ]);
  assert.throws(
    () => decomposeSettings(v),
    (e) => isUserError(e) && /Table 1 only/.test(e.message),
  );
  assert.throws(
    () => decomposeSettings({ delta: 'x' }),
    (e) => isUserError(e) && e.code === 'usage',
  );
  assert.equal(decomposeSettings({}).variants, undefined);
});

test('the rule of Algorithm 2 as printed can be selected', () => {
  const h = {
    wc: Float32Array.of(0.7, 0.7, -0.7),
    wuc: Float32Array.of(-0.6, 0.6, 0.6),
    bc: 0,
    buc: 0,
    keep: new Uint8Array(3),
  };
  assert.deepEqual([...headRemovals(h, 'algorithm2', 0.5)], [1, 0, 0]);
  assert.deepEqual([...headRemovals(h, 'prose', 0.5)], [0, 0, 1]);
});

test('channeling: the two-node head equals a hand computation, and so do composed scores', async () => {
  const art = await tinyModel();
  const g = analyzeGraph(planModel(art));
  const h = channelHead(g.head, 0);
  assert.deepEqual([...h.wc], [1, -1]);
  assert.deepEqual([...h.wuc], [0, 1]);
  assert.equal(h.bc, 0);
  assert.ok(Math.abs(h.buc - 0.15) < 1e-6);
  const [set] = await run({ unconcerned: 2, approaches: ['CI+TI+MC'] });
  const engine = await openInference(art, { preprocess: PRE });
  try {
    const data = tinyData();
    const c = await composedScores([{ engine, set: set! }], data.images.subarray(0, 48), 1, { exact: true });
    // Class-0 image: r = relu(a + b) is 9.5 at (0,0,0), else 0 -> features [2.375, 0].
    const expect0 = concernedProbability(2.375, 0.15);
    assert.ok(Math.abs(c.scores[0]! - expect0) < 1e-5, `${c.scores[0]} vs ${expect0}`);
    // Module 1: wc = [0, 1], wuc = [0.5, 0], bc 0.1, buc 0.1.
    assert.ok(Math.abs(c.scores[1]! - concernedProbability(0.1, 2.375 * 0.5 + 0.1)) < 1e-5);
    // Modules with equal masks share a pass.
    assert.equal(c.passes, 1);
    const all = await composedScores([{ engine, set: set! }], data.images, 6);
    assert.equal(composedAccuracy(all, data.labels, 3), 1);
    const top1 = composedAccuracy(all, data.labels, 1);
    assert.ok(top1 >= 0 && top1 <= 1);
  } finally {
    await engine.close();
  }
});

test('the same seed gives the same masks; backtracked positions never change module outputs', async () => {
  const a = await run({ unconcerned: 2, approaches: ['CI+TI+MC-BLN+MC-BI'], seed: 7 });
  const b = await run({ unconcerned: 2, approaches: ['CI+TI+MC-BLN+MC-BI'], seed: 7 });
  assert.deepEqual(a[0]!.sample, b[0]!.sample);
  for (let c = 0; c < 3; c++)
    for (const [k, v] of a[0]!.modules[c]!.removed) assert.deepEqual(v, b[0]!.modules[c]!.removed.get(k));
  const art = await tinyModel();
  const engine = await openInference(art, { preprocess: PRE });
  try {
    const data = tinyData();
    const full = await composedScores([{ engine, set: a[0]! }], data.images, 6, { exact: true });
    const fast = await composedScores([{ engine, set: a[0]! }], data.images, 6);
    full.scores.forEach((v, i) => assert.ok(Math.abs(v - fast.scores[i]!) < 1e-5));
  } finally {
    await engine.close();
  }
});

test('modules are saved, listed, loaded, exported and deleted; edits and other models are refused', async () => {
  const art = await tinyModel();
  const [set] = await run({ unconcerned: 2, approaches: ['CI+TI+MC-BLN+MC-BI'] }, art);
  const dir = tempDir('mod');
  const runDir = await saveModuleSet(dir, set!);
  const list = await listModuleSets(dir);
  assert.equal(list.length, 1);
  assert.equal(list[0]!.approach, 'CI+TI+MC-BLN+MC-BI');
  assert.equal(list[0]!.point, 'conv');
  const plan = planModel(art);
  const back = await loadModuleSet(runDir, { plan });
  for (let c = 0; c < 3; c++) {
    const m = back.modules[c]!;
    for (const [k, v] of set!.modules[c]!.removed) assert.deepEqual(m.removed.get(k), v);
    assert.deepEqual(m.head, set!.modules[c]!.head);
  }
  const ex = exportRemoved(back) as { modules: { layers: { name: string; removed: number[] }[] }[] };
  assert.deepEqual(ex.modules[0]!.layers.find((l) => l.name === 'c0')!.removed, [3, 7, 12, 13]);
  await assert.rejects(
    loadModuleSet(runDir, { plan: { ...plan, hash: 'f'.repeat(64) } }),
    (e) => isUserError(e) && e.code === 'modules-stale',
  );
  const bin = path.join(runDir, 'modules.bin');
  const bytes = await readFile(bin);
  bytes[0] ^= 1;
  await writeFile(bin, bytes);
  await assert.rejects(loadModuleSet(runDir, { plan }), (e) => isUserError(e) && /edited/.test(e.hint));
  await deleteModuleSet(runDir);
  assert.equal((await listModuleSets(dir)).length, 0);
});

test('bad models and samples get clear messages', async () => {
  const input = tf.input({ shape: [4, 4, 3] });
  const noRelu = tf.model({
    inputs: input,
    outputs: tf.layers
      .dense({ units: 2, activation: 'softmax' })
      .apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor,
  });
  const noReluArt = await modelToArtifacts(noRelu);
  assert.throws(
    () => analyzeGraph(planModel(noReluArt)),
    (e) => isUserError(e) && e.code === 'no-relu',
  );
  const sig = tf.model({
    inputs: input,
    outputs: tf.layers
      .dense({ units: 2, activation: 'sigmoid' })
      .apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor,
  });
  const sigArt = await modelToArtifacts(sig);
  assert.throws(
    () => analyzeGraph(planModel(sigArt)),
    (e) => isUserError(e) && e.code === 'bad-head',
  );
  const gmax = tf.model({
    inputs: input,
    outputs: tf.layers
      .dense({ units: 2, activation: 'softmax' })
      .apply(
        tf.layers
          .globalMaxPooling2d({ name: 'gmp' })
          .apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu' }).apply(input)),
      ) as tf.SymbolicTensor,
  });
  const gmaxArt = await modelToArtifacts(gmax);
  assert.throws(
    () => analyzeGraph(planModel(gmaxArt)),
    (e) => isUserError(e) && /"gmp"/.test(e.message),
  );
  const sets = await run({ perClass: 5, unconcerned: 2 });
  assert.ok(sets[0]!.warnings.some((w) => /fewer than the 5 asked/.test(w)));
  assert.equal(sets[0]!.sample[0]!.length, 2);
});
