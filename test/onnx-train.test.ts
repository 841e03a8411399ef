// The onnxruntime training engine: every backward rule against the tfjs cpu backend's
// gradients on seeded random shapes, training that follows the wasm engine's loss curve,
// checkpoints tfjs reads, a bit-identical resume after kill -9, and the engine choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { openTfjsEngine } from '../src/core/node/engine/tfjs/engine.ts';
import { describeBackend, initBackend } from '../src/core/node/graph/backend.ts';
import { OnnxTrainEngine } from '../src/core/node/engine/onnx-train/engine.ts';
import { OnnxTrainPool } from '../src/core/node/engine/onnx-train/pool.ts';
import { nchwcBlockSize } from '../src/core/node/graph/nchwc.ts';
import { createTrainingEngine, parseTrainingDevice } from '../src/core/node/engine/training.ts';
import { buildResNet } from '../src/core/node/models/resnet.ts';
import { loadOrt } from '../src/core/node/graph/ort.ts';
import { DEFAULT_PREPROCESS, MODEL_JSON, WEIGHTS_BIN, modelToArtifacts } from '../src/core/node/models/io.ts';
import { Rng } from '../src/core/node/data/random.ts';
import { train } from '../src/core/node/train/trainer.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { colourDataset } from './helpers/fixtures.ts';
import { runTrainChild } from './helpers/train-process.ts';
import { tempDir } from './helpers/temp.ts';

/** Gradients (and loss) of one batch from the onnxruntime graph and from tfjs on the cpu backend. */
async function compare(
  model: tf.LayersModel,
  n: number,
  seed: number,
  opts: { nchwc?: boolean; imagesFilterBytes?: number } = {},
) {
  const artifacts = await modelToArtifacts(model);
  const [h, w, c] = model.inputs[0]!.shape.slice(1) as number[];
  const classes = model.outputs[0]!.shape[1]!;
  const rng = new Rng(seed);
  const images = Uint8Array.from({ length: n * h! * w! * c! }, () => rng.int(256));
  const labels = Int32Array.from({ length: n }, () => rng.int(classes));
  const engine = new OnnxTrainEngine(await loadOrt(), { threads: 1, ...opts });
  try {
    const layout = await engine.load(artifacts, DEFAULT_PREPROCESS);
    const r = await engine.gradients(images, labels, n, null);
    const tfjs = await openTfjsEngine('cpu');
    await tfjs.load(artifacts, DEFAULT_PREPROCESS);
    const rr = await tfjs.gradients(images, labels, n, null);
    const ref = tfjs.grads;
    await tfjs.close();
    // Relative error per weight, against a floor of 1e-3 of the largest gradient: a bias
    // feeding batch norm has a true gradient of 0, which both compute as rounding noise.
    const norms = layout.names.map((_, i) => {
      const b = ref.subarray(layout.offsets[i]!, layout.offsets[i]! + layout.sizes[i]!);
      return Math.sqrt(b.reduce((s, x) => s + x * x, 0));
    });
    const floor = 1e-3 * Math.max(...norms);
    const errors = layout.names.map((name, i) => {
      const a = engine.grads.subarray(layout.offsets[i]!, layout.offsets[i]! + layout.sizes[i]!);
      const b = ref.subarray(layout.offsets[i]!, layout.offsets[i]! + layout.sizes[i]!);
      let d = 0;
      for (let j = 0; j < a.length; j++) d += (a[j]! - b[j]!) ** 2;
      return { name, error: Math.sqrt(d) / Math.max(norms[i]!, floor) };
    });
    return { loss: r.loss, refLoss: rr.loss, correct: r.correct, refCorrect: rr.correct, errors };
  } finally {
    await engine.close();
  }
}

function assertClose(r: Awaited<ReturnType<typeof compare>>, what: string) {
  assert.ok(
    Math.abs(r.loss - r.refLoss) <= 1e-4 * Math.abs(r.refLoss),
    `${what}: loss ${r.loss} vs ${r.refLoss}`,
  );
  assert.equal(r.correct, r.refCorrect, `${what}: correct`);
  for (const e of r.errors) assert.ok(e.error <= 1e-4, `${what}: ${e.name} relative error ${e.error}`);
}

interface ConvCase {
  /** Input height and width (3 channels). */
  size: number;
  /** The first convolution's [k0, 1] window (valid): k0 > 1 makes the case's input non-square. */
  k0: number;
  /** Channels into the case. */
  c1: number;
  bn: boolean;
  filters: number;
  kernel: number;
  stride: number;
  padding: 'same' | 'valid';
  bias: boolean;
}

/**
 * A model around the convolution under test (named 'case'): a first convolution to c1
 * channels (so the case's input gradient is exercised too), ReLU, batch norm after both
 * convolutions where asked, global average pooling and a softmax layer. `seed` numbers the
 * initialisers.
 */
function convCaseModel(c: ConvCase, seed: () => number): tf.LayersModel {
  const input = tf.input({ shape: [c.size, c.size, 3] });
  let x = tf.layers
    .conv2d({
      filters: c.c1,
      kernelSize: [c.k0, 1],
      padding: 'valid',
      useBias: !c.bn,
      kernelInitializer: tf.initializers.heNormal({ seed: seed() }),
      biasInitializer: tf.initializers.randomNormal({ seed: seed() }),
    })
    .apply(input) as tf.SymbolicTensor;
  if (c.bn) x = tf.layers.batchNormalization({ momentum: 0.9 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({
      filters: c.filters,
      kernelSize: c.kernel,
      strides: c.stride,
      padding: c.padding,
      useBias: c.bias,
      activation: 'relu',
      kernelInitializer: tf.initializers.heNormal({ seed: seed() }),
      biasInitializer: tf.initializers.randomNormal({ seed: seed(), stddev: 0.1 }),
      name: 'case',
    })
    .apply(x) as tf.SymbolicTensor;
  if (c.bn) x = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({
      units: 3,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotNormal({ seed: seed() }),
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

const describeCase = (c: ConvCase) =>
  `k${c.kernel} s${c.stride} ${c.padding} ${c.size - c.k0 + 1}x${c.size} ${c.c1}->${c.filters}` +
  `${c.bn ? ' bn' : ''}${c.bias ? ' bias' : ''}`;

test('Conv2D, BatchNormalization, ReLU, GlobalAveragePooling2D and Dense gradients match tfjs on random shapes', async () => {
  await tf.setBackend('cpu');
  const rng = new Rng(12);
  let seed = 1;
  for (const kernel of [1, 2, 3, 5]) {
    for (const stride of [1, 2, 3]) {
      for (const padding of ['same', 'valid'] as const) {
        // Odd-sized and non-square inputs to the case, with 1-64 channels.
        const c: ConvCase = {
          size: 5 + kernel + rng.int(4),
          k0: 1 + rng.int(3),
          c1: [1, 4, 16, 64][rng.int(4)]!,
          filters: [1 + rng.int(16), 16, 32][rng.int(3)]!,
          bn: rng.next() < 0.5,
          bias: rng.next() < 0.5,
          kernel,
          stride,
          padding,
        };
        const model = convCaseModel(c, () => seed++);
        assertClose(await compare(model, 8, seed), describeCase(c));
        model.dispose();
      }
    }
  }
});

test('filter gradients on the blocked kernels (the batch as channels) match tfjs at batches of whole blocks and not, whole and in chunks of rows', async () => {
  await tf.setBackend('cpu');
  const block = await nchwcBlockSize(await loadOrt());
  let seed = 100;
  // [size, in channels, out channels, kernel, stride, padding]: 3x3 and 1x1 at strides 1-3,
  // 'same' and 'valid', an even and a large kernel, in channels of 1-4 blocks and below one,
  // out channels below a block and not a whole number of blocks; rows and columns x has
  // beyond the last offset's reach (1x1 at stride 2 on an even map, 'valid' at stride 3).
  const cases: [number, number, number, number, number, 'same' | 'valid'][] = [
    [8, 16, 16, 3, 1, 'same'],
    [8, 32, 16, 3, 2, 'same'],
    [10, 16, 32, 3, 1, 'valid'],
    [8, 32, 64, 1, 2, 'same'],
    [12, 16, 8, 5, 1, 'same'],
    [9, 64, 16, 2, 1, 'valid'],
    [24, 16, 5, 3, 3, 'same'],
    [11, 3, 24, 3, 3, 'valid'],
  ];
  for (const [size, c1, filters, kernel, stride, padding] of cases) {
    const c: ConvCase = {
      size,
      k0: 1,
      c1,
      filters,
      kernel,
      stride,
      padding,
      bn: false,
      bias: seed % 2 === 0,
    };
    const model = convCaseModel(c, () => seed++);
    // Whole blocks of images; a block and 4 (zero images fill the last block); 3 images (more
    // zero images than real ones: the GEMM per offset instead).
    const b = Math.max(block, 8);
    for (const n of [2 * b, b + 4, 3])
      assertClose(await compare(model, n, seed), `${describeCase(c)}, ${n} images`);
    // In chunks of one row of dz each, as large maps run (whole blocks and not).
    for (const n of [2 * b, b + 4])
      assertClose(
        await compare(model, n, seed, { imagesFilterBytes: 1 }),
        `${describeCase(c)}, ${n} images, 1-row chunks`,
      );
    model.dispose();
  }
});

test('without the blocked kernels (GPUs, CPUs that lack them) a ResNet and blocked-size cases match tfjs too', async () => {
  await tf.setBackend('cpu');
  // Plain Conv with transposes and GEMM filter gradients everywhere: the graph a GPU, or a
  // CPU without onnxruntime's NCHWc kernels, trains. (Inputs where no pre-activation sits
  // within float32 rounding of 0: a ReLU mask there can flip between any two
  // implementations, tfjs's included, and move a gradient by a percent.)
  for (const batchNorm of [false, true]) {
    const model = buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 7, batchNorm });
    assertClose(
      await compare(model, 4, 5, { nchwc: false }),
      `ResNet-8${batchNorm ? ' bn' : ''}, plain Conv`,
    );
    model.dispose();
  }
  let seed = 300;
  const c: ConvCase = {
    size: 8,
    k0: 1,
    c1: 32,
    filters: 16,
    kernel: 3,
    stride: 2,
    padding: 'same',
    bn: false,
    bias: true,
  };
  const model = convCaseModel(c, () => seed++);
  assertClose(await compare(model, 8, seed, { nchwc: false }), `${describeCase(c)}, plain Conv`);
  model.dispose();
});

test('pooling, Flatten, Add, hidden Dense, sigmoid/tanh and BN on flat tensors match tfjs', async () => {
  await tf.setBackend('cpu');
  const input = tf.input({ shape: [13, 13, 3] });
  const init = (seed: number) => tf.initializers.heNormal({ seed });
  const a = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init(1), activation: 'tanh' })
    .apply(input) as tf.SymbolicTensor;
  const p = tf.layers
    .maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })
    .apply(a) as tf.SymbolicTensor;
  const b = tf.layers
    .conv2d({ filters: 6, kernelSize: 1, kernelInitializer: init(2) })
    .apply(p) as tf.SymbolicTensor;
  const s = tf.layers.add().apply([b, p]) as tf.SymbolicTensor;
  const q = tf.layers
    .averagePooling2d({ poolSize: 2, strides: 2, padding: 'valid' })
    .apply(s) as tf.SymbolicTensor;
  const m = tf.layers
    .maxPooling2d({ poolSize: 2, strides: 1, padding: 'valid' })
    .apply(q) as tf.SymbolicTensor;
  const f = tf.layers.flatten().apply(m) as tf.SymbolicTensor;
  const d = tf.layers
    .dense({ units: 7, activation: 'sigmoid', kernelInitializer: init(3) })
    .apply(f) as tf.SymbolicTensor;
  const n = tf.layers.batchNormalization({ momentum: 0.8 }).apply(d) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 4, activation: 'softmax', kernelInitializer: init(4) })
    .apply(n) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  assertClose(await compare(model, 5, 9), 'pooling net');
  model.dispose();

  const input2 = tf.input({ shape: [11, 11, 3] });
  const c = tf.layers
    .conv2d({ filters: 5, kernelSize: 2, strides: 2, padding: 'valid', kernelInitializer: init(5) })
    .apply(input2) as tf.SymbolicTensor;
  const g = tf.layers.globalMaxPooling2d({}).apply(c) as tf.SymbolicTensor;
  const z = tf.layers.dense({ units: 3, kernelInitializer: init(6) }).apply(g) as tf.SymbolicTensor;
  const out2 = tf.layers.activation({ activation: 'softmax' }).apply(z) as tf.SymbolicTensor;
  const model2 = tf.model({ inputs: input2, outputs: out2 });
  assertClose(await compare(model2, 4, 10), 'global max pooling + softmax layer');
  model2.dispose();
});

async function history(backend: 'onnxruntime' | 'wasm', batchNorm: boolean) {
  const runDir = tempDir('onnx-train');
  const r = await train({
    runDir,
    data: colourDataset({ train: 96 }),
    workers: 0,
    backend,
    config: { depth: 8, epochs: 2, batchSize: 16, seed: 5, batchNorm },
  });
  return { r, runDir };
}

test("a ResNet (and its BN variant) trains on onnxruntime along the wasm engine's loss curve; tfjs loads its checkpoints", async () => {
  for (const batchNorm of [false, true]) {
    const a = await history('onnxruntime', batchNorm);
    const b = await history('wasm', batchNorm);
    assert.equal(a.r.backend, 'onnxruntime');
    assert.equal(b.r.backend, 'wasm');
    assert.equal(a.r.evalEngine, 'onnxruntime');
    a.r.history.forEach((h, i) => {
      const ref = b.r.history[i]!.loss;
      assert.ok(
        Math.abs(h.loss - ref) <= 0.02 * ref,
        `bn=${batchNorm} epoch ${i + 1}: loss ${h.loss} vs wasm ${ref}`,
      );
    });
    assert.ok(a.r.history[1]!.loss < a.r.history[0]!.loss);
    // The saved model is a standard tfjs-layers model.
    const json = JSON.parse(await readFile(path.join(a.r.modelDir!, MODEL_JSON), 'utf8'));
    const weights = await readFile(path.join(a.r.modelDir!, WEIGHTS_BIN));
    await initBackend('cpu');
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    assert.equal(model.outputs[0]!.shape[1], 4);
    // Validation's eval graph (batch norm from its moving statistics) predicts what tfjs does.
    const engine = new OnnxTrainEngine(await loadOrt(), { threads: 1 });
    try {
      await engine.load(await modelToArtifacts(model), DEFAULT_PREPROCESS);
      const [h, w, c] = model.inputs[0]!.shape.slice(1) as number[];
      const per = h! * w! * c!;
      const rng = new Rng(9);
      const images = Uint8Array.from({ length: 6 * per }, () => rng.int(256));
      const ours = await engine.predict(images, 6, per, 4);
      const { mean, std } = DEFAULT_PREPROCESS;
      const x = tf.tensor4d(
        Float32Array.from(images, (v) => (v - mean) / std),
        [6, h!, w!, c!],
      );
      const theirs = (model.predict(x) as tf.Tensor).dataSync();
      x.dispose();
      ours.forEach((p, i) =>
        assert.ok(Math.abs(p - theirs[i]!) <= 1e-4, `bn=${batchNorm} probability ${i}: ${p} vs ${theirs[i]}`),
      );
    } finally {
      await engine.close();
    }
    model.dispose();
  }
});

const runChild = (runDir: string, epochs: number, killAfterEpoch?: number) =>
  runTrainChild(runDir, epochs, { killAfterEpoch, workers: 2, backend: 'onnxruntime' });

test('a run killed with SIGKILL on onnxruntime (two worker threads) resumes bit-identical to an uninterrupted one', async () => {
  const killedDir = tempDir('onnx-train');
  const first = await runChild(killedDir, 3, 1);
  assert.ok(first.killed);
  const resumed = await runChild(killedDir, 3);
  assert.equal(resumed.result?.resumedFrom, 1);
  assert.equal(resumed.result?.backend, 'onnxruntime');
  const cleanDir = tempDir('onnx-train');
  const clean = await runChild(cleanDir, 3);
  const a = await readFile(path.join(killedDir, 'model', WEIGHTS_BIN));
  const b = await readFile(path.join(cleanDir, 'model', WEIGHTS_BIN));
  assert.ok(a.equals(b), 'resumed weights equal uninterrupted weights');
  assert.deepEqual(
    resumed.result!.history.map((h) => h.loss),
    clean.result!.history.map((h) => h.loss),
  );
});

test('a layer without a training rule falls back to tfjs with the reason; forcing onnxruntime names the layer', async () => {
  await initBackend('cpu');
  const input = tf.input({ shape: [8, 8, 3] });
  const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'c' }).apply(input) as tf.SymbolicTensor;
  const drop = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(c) as tf.SymbolicTensor;
  const f = tf.layers.flatten().apply(drop) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(f) as tf.SymbolicTensor;
  const artifacts = await modelToArtifacts(tf.model({ inputs: input, outputs: out }));

  const auto = createTrainingEngine({ workers: 0 });
  try {
    await auto.load(artifacts, DEFAULT_PREPROCESS);
    assert.notEqual(auto.report!.active, 'onnxruntime');
    const why = auto.report!.candidates.find((x) => x.name === 'onnxruntime')!;
    assert.equal(why.ok, false);
    assert.match(why.reason!, /"drop" \(Dropout\)/);
  } finally {
    await auto.close();
  }
  const forced = createTrainingEngine({ workers: 0, backend: 'onnxruntime' });
  await assert.rejects(forced.load(artifacts, DEFAULT_PREPROCESS), (e: unknown) => {
    assert.ok(isUserError(e));
    assert.match((e as Error).message, /"drop" \(Dropout\)/);
    return true;
  });
  await forced.close();
});

test('--device gpu where no GPU provider starts trains on the CPU and says why; unknown devices are refused', async () => {
  await initBackend('cpu');
  const model = buildResNet({ depth: 8, inputSize: 16, classes: 3, seed: 2 });
  const artifacts = await modelToArtifacts(model);
  model.dispose();
  const engine = createTrainingEngine({ workers: 1, device: 'gpu' });
  try {
    await engine.load(artifacts, DEFAULT_PREPROCESS);
    assert.equal(engine.report!.active, 'onnxruntime');
    const d = engine.report!.device!;
    if (d.active === 'cpu') {
      assert.match(d.reason!, /GPU asked, trained on CPU: .*(cuda|dml|coreml)/);
      assert.match(describeBackend(engine.report!), /onnxruntime on CPU \(GPU asked/);
    }
    const images = new Uint8Array(2 * 16 * 16 * 3).fill(100);
    const r = await engine.gradients(images, Int32Array.from([0, 1]), 2, null, 16 * 16 * 3);
    assert.ok(Number.isFinite(r.loss));
  } finally {
    await engine.close();
  }
  assert.throws(
    () => parseTrainingDevice('tpu'),
    (e: unknown) => isUserError(e) && /Unknown device "tpu"/.test((e as Error).message),
  );
});

test('micro-batches bound activation memory and give the gradients of one pass', async () => {
  await initBackend('cpu');
  const model = buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 6 });
  const artifacts = await modelToArtifacts(model);
  model.dispose();
  const rng = new Rng(4);
  const n = 10;
  const images = Uint8Array.from({ length: n * 16 * 16 * 3 }, () => rng.int(256));
  const labels = Int32Array.from({ length: n }, () => rng.int(4));
  const ort = await loadOrt();
  const whole = new OnnxTrainEngine(ort, { threads: 1 });
  // A budget of 2 images per run (ResNet-8 16x16: about 45k output floats per image).
  const micro = new OnnxTrainEngine(ort, { threads: 1, activationBudget: 3 * 2 * 4 * 40000 });
  try {
    await whole.load(artifacts, DEFAULT_PREPROCESS);
    await micro.load(artifacts, DEFAULT_PREPROCESS);
    const a = await whole.gradients(images, labels, n, null);
    const b = await micro.gradients(images, labels, n, null);
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * a.loss, `loss ${a.loss} vs ${b.loss}`);
    assert.equal(a.correct, b.correct);
    let d = 0;
    let s = 0;
    for (let i = 0; i < whole.grads.length; i++) {
      d += (whole.grads[i]! - micro.grads[i]!) ** 2;
      s += whole.grads[i]! ** 2;
    }
    assert.ok(Math.sqrt(d / s) < 1e-5, `relative difference ${Math.sqrt(d / s)}`);
  } finally {
    await whole.close();
    await micro.close();
  }
});

test('the onnxruntime worker pool gives the gradients and predictions of one session', async () => {
  await initBackend('cpu');
  const model = buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 8 });
  const artifacts = await modelToArtifacts(model);
  model.dispose();
  const rng = new Rng(5);
  const per = 16 * 16 * 3;
  const images = Uint8Array.from({ length: 9 * per }, () => rng.int(256));
  const labels = Int32Array.from({ length: 9 }, () => rng.int(4));
  // Two workers, and three: the weights' slices the workers combine are uneven, and a batch of
  // 2 leaves a worker without a share.
  for (const [workers, n] of [
    [2, 9],
    [3, 9],
    [3, 2],
  ] as const) {
    const one = new OnnxTrainEngine(await loadOrt(), { threads: 1 });
    const pool = new OnnxTrainPool(workers, { threads: 1 });
    try {
      await one.load(artifacts, DEFAULT_PREPROCESS);
      await pool.load(artifacts, DEFAULT_PREPROCESS);
      assert.equal(pool.size, workers);
      const a = await one.gradients(images, labels, n, null);
      const b = await pool.gradients(images, labels, n, null, per);
      const what = `${workers} workers, ${n} images`;
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5 * a.loss, `${what}: loss ${a.loss} vs ${b.loss}`);
      assert.equal(a.correct, b.correct, what);
      let d = 0;
      let s = 0;
      for (let i = 0; i < one.grads.length; i++) {
        d += (one.grads[i]! - pool.grads[i]!) ** 2;
        s += one.grads[i]! ** 2;
      }
      assert.ok(Math.sqrt(d / s) < 1e-5, `${what}: relative difference ${Math.sqrt(d / s)}`);
      // The workers read the pool's weights as they change.
      pool.weights.set(one.weights.map((w) => w * 0.5));
      one.weights.set(one.weights.map((w) => w * 0.5));
      const p = await one.predict(images, n, per, 4);
      const q = await pool.predict(images, n, per, 4, 4);
      for (let i = 0; i < p.length; i++) assert.ok(Math.abs(p[i]! - q[i]!) < 1e-5, what);
    } finally {
      await one.close();
      await pool.close();
    }
  }
});
