// Our wasm training kernels against the cpu backend's reference kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../src/core/node/engine/tfjs/kernels/index.ts';

type Pad =
  'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = mulberry32(20240611);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const values = (n: number): Float32Array => Float32Array.from({ length: n }, () => rand() * 2 - 1);
const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** max |a-b| / max(|b|, 1e-6) */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return diff / Math.max(mag, 1e-6);
}

async function onBackend<T>(name: string, fn: () => T): Promise<T> {
  await tf.setBackend(name);
  return fn();
}

function runKernel(name: string, inputs: Record<string, [Float32Array, number[]]>, attrs: object) {
  return tf.tidy(() => {
    const ins: Record<string, tf.Tensor> = {};
    for (const [k, [v, s]] of Object.entries(inputs)) ins[k] = tf.tensor(v, s);
    const out = tf.engine().runKernel(name, ins, attrs as never) as tf.Tensor;
    return { shape: out.shape, data: out.dataSync().slice() };
  });
}

async function compareKernel(name: string, inputs: Record<string, [Float32Array, number[]]>, attrs: object) {
  const wasm = await onBackend('wasm', () => runKernel(name, inputs, attrs));
  const cpu = await onBackend('cpu', () => runKernel(name, inputs, attrs));
  assert.deepEqual(wasm.shape, cpu.shape);
  return relDiff(wasm.data, cpu.data);
}

interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  pad: Pad;
}

function convCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  const sizes = [5, 7, 8, 9, 16];
  const channels = [1, 3, 4, 8, 16];
  const pads: Pad[] = [
    'same',
    'valid',
    1,
    2,
    [
      [0, 0],
      [1, 0],
      [0, 2],
      [0, 0],
    ],
  ];
  for (const k of [1, 3]) {
    for (const s of [1, 2]) {
      for (const pad of pads) {
        const reps = typeof pad === 'string' ? 5 : 2;
        for (let r = 0; r < reps; r++) {
          cases.push({
            n: 1 + Math.floor(rand() * 4),
            h: pick(sizes),
            w: pick(sizes),
            ci: pick(channels),
            co: pick(channels),
            k,
            s,
            pad,
          });
        }
      }
    }
  }
  return cases;
}

registerWasmTrainingKernels();

test('registration is idempotent and replaces the stock kernels', () => {
  const names = registerWasmTrainingKernels();
  assert.deepEqual(names, registerWasmTrainingKernels());
  for (const n of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Tile']) {
    assert.ok(names.includes(n), n);
    assert.ok(tf.getKernel(n, 'wasm'), n);
  }
});

test('Conv2DBackpropInput and Conv2DBackpropFilter match the cpu backend', async () => {
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const buffersBefore = tf.engine().backend.numDataIds();
  let worst = 0;
  for (const c of convCases()) {
    const xShape = [c.n, c.h, c.w, c.ci];
    const fShape = [c.k, c.k, c.ci, c.co];
    const info = tf.backend_util.computeConv2DInfo(xShape as never, fShape as never, c.s, 1, c.pad as never);
    if (info.outHeight <= 0 || info.outWidth <= 0) continue;
    const dyShape = [c.n, info.outHeight, info.outWidth, c.co];
    const label = JSON.stringify(c);
    const dx = await compareKernel(
      'Conv2DBackpropInput',
      { dy: [values(size(dyShape)), dyShape], filter: [values(size(fShape)), fShape] },
      { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: xShape },
    );
    assert.ok(dx < 1e-4, `dx ${label}: ${dx}`);
    const dw = await compareKernel(
      'Conv2DBackpropFilter',
      { x: [values(size(xShape)), xShape], dy: [values(size(dyShape)), dyShape] },
      { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: fShape },
    );
    assert.ok(dw < 1e-4, `dW ${label}: ${dw}`);
    worst = Math.max(worst, dx, dw);
  }
  await tf.setBackend('wasm');
  assert.equal(tf.memory().numTensors, before);
  assert.equal(tf.engine().backend.numDataIds(), buffersBefore, 'no leaked wasm buffers');
  assert.ok(worst < 1e-4);
});

test('dilations other than 1 are refused with a clear error', async () => {
  await tf.setBackend('wasm');
  const dy = tf.zeros([1, 4, 4, 2]);
  const f = tf.zeros([3, 3, 2, 2]);
  assert.throws(
    () =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NHWC',
        inputShape: [1, 4, 4, 2],
        dilations: 2,
      } as never),
    /dilations = 1 only/,
  );
  tf.dispose([dy, f]);
});

test('Tile matches the cpu backend', async () => {
  const cases: [number[], number[], 'float32' | 'int32' | 'bool'][] = [
    [[1, 1, 1, 16], [4, 8, 8, 1], 'float32'],
    [[3], [4], 'int32'],
    [[2, 3], [2, 2], 'float32'],
    [[2, 1, 3], [1, 5, 2], 'bool'],
    [[4, 1], [1, 7], 'float32'],
    [[2, 3, 1, 2], [2, 1, 3, 2], 'int32'],
    [[5], [1], 'float32'],
    [[2, 0], [2, 3], 'float32'],
  ];
  for (const [shape, reps, dtype] of cases) {
    const vals = Array.from({ length: size(shape) }, (_, i) => (dtype === 'bool' ? i % 2 : i * 3 - 7));
    const run = () =>
      tf.tidy(() => {
        const out = tf.tile(tf.tensor(vals, shape, dtype), reps);
        return { shape: out.shape, data: Array.from(out.dataSync()) };
      });
    const wasm = await onBackend('wasm', run);
    const cpu = await onBackend('cpu', run);
    assert.deepEqual(wasm, cpu, `${shape} x ${reps} ${dtype}`);
  }
});

function resnetLike(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = (x: tf.SymbolicTensor, filters: number, kernelSize: number, strides: number) =>
    tf.layers
      .conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false })
      .apply(x) as tf.SymbolicTensor;
  const bn = (x: tf.SymbolicTensor) => tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  const relu = (x: tf.SymbolicTensor) =>
    tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  let h = relu(bn(conv(input, 4, 3, 1)));
  // Identity block, then a downsampling block with a 1x1 stride-2 projection.
  let y = bn(conv(relu(bn(conv(h, 4, 3, 1))), 4, 3, 1));
  h = relu(tf.layers.add().apply([y, h]) as tf.SymbolicTensor);
  y = bn(conv(relu(bn(conv(h, 8, 3, 2))), 8, 3, 1));
  const shortcut = bn(conv(h, 8, 1, 2));
  h = relu(tf.layers.add().apply([y, shortcut]) as tf.SymbolicTensor);
  // A biased conv goes through FusedConv2D and its bias gradient.
  h = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' })
    .apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 5, activation: 'softmax' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

test('ResNet-like model gradients on wasm match cpu', async () => {
  await tf.setBackend('cpu');
  const model = resnetLike();
  model.setWeights(model.getWeights().map((w) => tf.tensor(values(w.size), w.shape)));
  const batch = 3;
  const xs = values(batch * 8 * 8 * 3);
  const labels = Array.from({ length: batch }, () => Math.floor(rand() * 5));
  const grads = () =>
    tf.tidy(() => {
      const x = tf.tensor(xs, [batch, 8, 8, 3]);
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 5);
      const { value, grads } = tf.variableGrads(
        () =>
          tf.losses
            .softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor)
            .mean() as tf.Scalar,
      );
      const out: Record<string, Float32Array> = { loss: value.dataSync() as Float32Array };
      for (const [name, g] of Object.entries(grads)) out[name] = g.dataSync().slice() as Float32Array;
      return out;
    });
  const cpu = await onBackend('cpu', grads);
  const wasm = await onBackend('wasm', grads);
  assert.deepEqual(Object.keys(wasm).sort(), Object.keys(cpu).sort());
  assert.ok(Object.keys(cpu).filter((k) => k.includes('kernel')).length >= 8);
  for (const name of Object.keys(cpu)) {
    const d = relDiff(wasm[name], cpu[name]);
    assert.ok(d < 1e-4, `${name}: ${d}`);
  }
  model.dispose();
});

test('a few Adam training steps run on wasm and lower the loss', async () => {
  await tf.setBackend('wasm');
  const model = resnetLike();
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  const x = tf.tensor(values(8 * 8 * 8 * 3), [8, 8, 8, 3]);
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: 8 }, (_, i) => i % 5),
      'int32',
    ),
    5,
  );
  const first = (await model.trainOnBatch(x, y)) as number;
  let last = first;
  for (let i = 0; i < 10; i++) last = (await model.trainOnBatch(x, y)) as number;
  assert.ok(Number.isFinite(last) && last < first, `loss ${first} -> ${last}`);
  tf.dispose([x, y]);
  model.dispose();
});
