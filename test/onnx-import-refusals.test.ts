// decomposer import, its edges: every bad input is one message and exit 2 with nothing written
// (neither the model folder nor the list of imported models), and the window layers' forms
// that the fixtures do not hold (automatic pads, ceil mode, padding an average counts, a zero
// pad before a max pool, a batch norm over flattened features) agree with onnxruntime running
// the original graph.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { FIXTURES_DIR } from './fixtures/onnx/fixtures.ts';
import { mnistDataset, tenColours } from './helpers/onnx-import.ts';
import { makeFolder, pixels } from './helpers/fixtures.ts';
import { cli } from './helpers/cli.ts';
import { tempDir } from './helpers/temp.ts';
import {
  DataType,
  encodeModel,
  float,
  int,
  ints,
  str,
  valueInfo,
  type Attr,
} from '../src/core/node/graph/onnx-proto.ts';
import { importOnnx } from '../src/core/node/graph/onnx-import/index.ts';
import { openInference } from '../src/core/node/inference/index.ts';

let root = '';
let grey = '';
let colour = '';

before(async () => {
  root = tempDir('import-bad');
  grey = mnistDataset(path.join(root, 'grey'), pixels(20), 20);
  colour = await tenColours(path.join(root, 'colour'));
});

test('bad inputs: one message each, exit 2, nothing written', async () => {
  const home = path.join(root, 'home');
  const fixture = (name: string) => path.join(FIXTURES_DIR, `${name}.onnx`);
  fs.mkdirSync(path.join(root, 'four'));
  const four = await makeFolder(path.join(root, 'four'), [
    ['a', [200, 0, 0]],
    ['b', [0, 200, 0]],
    ['c', [0, 0, 200]],
    ['d', [90, 90, 90]],
  ]);
  const existing = path.join(root, 'existing');
  fs.mkdirSync(existing);
  fs.writeFileSync(path.join(existing, 'plan.json'), '{}');
  const cases: [string[], RegExp][] = [
    [[fixture('bad-not-onnx')], /bad-not-onnx\.onnx is not an ONNX model/],
    [[fixture('bad-truncated')], /bad-truncated\.onnx is cut short or damaged/],
    [
      [fixture('bad-external-data')],
      /weights of .* in an external file, bad-external-data\.weights, which is missing/,
    ],
    [[fixture('bad-two-inputs')], /the model takes 2 inputs \(x, y\); a classifier takes one image/],
    [[fixture('bad-rank2-input')], /its input .* is \[1, 16\], not an image/],
    [[fixture('bad-lstm')], /LSTM \(node "\/lstm\/LSTM"\): this operator is not supported/],
    [[fixture('bad-grouped-conv')], /Conv \(node "\/0\/Conv"\): group 3: grouped and depthwise convolutions/],
    [[fixture('bad-dilated-conv')], /Conv \(node "\/0\/Conv"\): dilation 2x2/],
    [[fixture('cnn-opset17'), '--classes', 'a,b'], /--classes names 2 classes, but the model has 10 outputs/],
    [
      [fixture('cnn-opset17'), '--dataset', `folder:${four}`],
      /has 10 outputs but the dataset .* has 4 classes/,
    ],
    [
      [fixture('cnn-opset17'), '--mean', '0.1,0.2'],
      /--mean gives 2 values, but the model takes 3-channel images/,
    ],
    [[fixture('cnn-opset17'), '--out', existing], /already holds a model \(plan\.json\)/],
    [[fixture('cnn-opset17'), '--std', '0'], /--std: must be a number from 0\.000001 to 1000/],
    [[path.join(root, 'nowhere.onnx')], /No file at .*nowhere\.onnx/],
  ];
  for (const [args, message] of cases) {
    const out = path.join(root, `out-${path.basename(args[0]!)}`);
    const argv = ['import', ...args];
    if (!args.includes('--out')) argv.push('--out', out);
    if (!args.includes('--dataset'))
      argv.push('--dataset', args[0]!.includes('cnn') ? `folder:${colour}` : `mnist:${grey}`);
    const r = cli(argv, { home });
    assert.equal(r.status, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, argv.join(' '));
    assert.equal(r.stderr.match(/^error:/gm)?.length, 1, `one message: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(fs.existsSync(out), false, `${argv.join(' ')}: nothing written`);
    assert.equal(fs.existsSync(path.join(home, 'models.json')), false, 'no model listed');
  }
  assert.deepEqual(fs.readdirSync(existing), ['plan.json'], 'the folder that held a model is untouched');
});

// Small graphs written here, each compared with onnxruntime on the original.

const rand = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;

interface Graph {
  nodes: { op: string; in: string[]; out: string; attrs?: Attr[] }[];
  inits: { name: string; dims: number[]; data?: number[]; ints?: number[] }[];
  input: number[];
  classes: number;
}

function encode(g: Graph, seed: number): Uint8Array {
  const r = rand(seed);
  return encodeModel({
    irVersion: 8,
    producerName: 'test',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      node: g.nodes.map((n, i) => ({
        opType: n.op,
        input: n.in,
        output: [n.out],
        name: `n${i}`,
        attribute: n.attrs ?? [],
      })),
      initializer: g.inits.map((t) => {
        const count = t.dims.reduce((a, b) => a * b, 1);
        if (t.ints)
          return {
            name: t.name,
            dims: t.dims,
            dataType: DataType.INT64,
            rawData: new Uint8Array(BigInt64Array.from(t.ints.map(BigInt)).buffer),
          };
        const data = Float32Array.from(t.data ?? Array.from({ length: count }, () => r() * 0.5));
        return { name: t.name, dims: t.dims, dataType: DataType.FLOAT, rawData: new Uint8Array(data.buffer) };
      }),
      input: [valueInfo('x', DataType.FLOAT, ['N', ...g.input.slice(1)])],
      output: [valueInfo('y', DataType.FLOAT, ['N', g.classes])],
    },
  });
}

async function agrees(g: Graph, what: string): Promise<void> {
  const bytes = encode(g, 7);
  const [, c, h, w] = g.input as [number, number, number, number];
  const n = 3;
  // A grey model's pixels are grey (its input is their grey value, exactly the channels' value).
  const value = (i: number) => (i * 37 + (i >> 5) * 11) % 256;
  const px = Uint8Array.from({ length: n * h * w * 3 }, (_, i) => value(c === 1 ? Math.floor(i / 3) : i));
  // The original's input: pixel / 255, NCHW (grey models: the channels are made equal first).
  const x = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let k = 0; k < c; k++)
          x[((i * c + k) * h + y) * w + xx] = px[((i * h + y) * w + xx) * 3 + k]! / 255;
  const session = await ort.InferenceSession.create(bytes);
  const want = (await session.run({ x: new ort.Tensor('float32', x, [n, c, h, w]) })).y!.data as Float32Array;
  await session.release();
  const imported = await importOnnx(bytes, { file: path.join(root, `${what}.onnx`) });
  const engine = await openInference(imported.artifacts, { preprocess: { scale: '0..1', mean: 0, std: 1 } });
  const got = await engine.predict(px, n);
  await engine.close();
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i]! - want[i]!) < 2e-5, `${what} [${i}]: ${got[i]} vs ${want[i]}`);
}

test('automatic pads, ceil mode, counted padding, a zero pad before a max pool and Clip as ReLU agree with onnxruntime', async () => {
  await agrees(
    {
      input: [1, 3, 13, 13],
      classes: 5,
      inits: [
        { name: 'w1', dims: [4, 3, 3, 3] },
        { name: 'b1', dims: [4] },
        { name: 'pads', dims: [8], ints: [0, 0, 1, 0, 0, 0, 0, 1] },
        { name: 'zero', dims: [], data: [0] },
        { name: 'fw', dims: [4, 5] },
        { name: 'fb', dims: [5] },
      ],
      nodes: [
        {
          op: 'Conv',
          in: ['x', 'w1', 'b1'],
          out: 'c1',
          attrs: [str('auto_pad', 'SAME_UPPER'), ints('strides', [2, 2])],
        },
        { op: 'Relu', in: ['c1'], out: 'r1' },
        {
          op: 'MaxPool',
          in: ['r1'],
          out: 'm1',
          attrs: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), int('ceil_mode', 1)],
        },
        { op: 'Pad', in: ['m1', 'pads'], out: 'p1' },
        { op: 'MaxPool', in: ['p1'], out: 'm2', attrs: [ints('kernel_shape', [2, 2])] },
        {
          op: 'AveragePool',
          in: ['m2'],
          out: 'a1',
          attrs: [ints('kernel_shape', [2, 2]), ints('pads', [1, 1, 0, 0]), int('count_include_pad', 1)],
        },
        { op: 'Clip', in: ['a1', 'zero'], out: 'k1' },
        { op: 'GlobalMaxPool', in: ['k1'], out: 'g1' },
        { op: 'Flatten', in: ['g1'], out: 'f1' },
        { op: 'Gemm', in: ['f1', 'fw', 'fb'], out: 'z', attrs: [float('alpha', 0.5), float('beta', 2)] },
        { op: 'Softmax', in: ['z'], out: 'y' },
      ],
    },
    'windows',
  );
  await agrees(
    {
      input: [1, 1, 12, 12],
      classes: 4,
      inits: [
        { name: 'pads', dims: [8], ints: [0, 0, 2, 1, 0, 0, 0, 1] },
        { name: 'w1', dims: [6, 1, 3, 3] },
        { name: 'scale', dims: [96] },
        { name: 'bias', dims: [96] },
        { name: 'mean', dims: [96] },
        { name: 'var', dims: [96], data: Array.from({ length: 96 }, (_, i) => 0.5 + (i % 7) / 7) },
        { name: 'shape', dims: [2], ints: [-1, 96] },
        { name: 'fw', dims: [96, 4] },
      ],
      nodes: [
        { op: 'Pad', in: ['x', 'pads'], out: 'p1' },
        {
          op: 'Conv',
          in: ['p1', 'w1'],
          out: 'c1',
          attrs: [ints('pads', [1, 0, 0, 1]), ints('strides', [2, 2])],
        },
        { op: 'Relu', in: ['c1'], out: 'r1' },
        {
          op: 'AveragePool',
          in: ['r1'],
          out: 'a1',
          attrs: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2]), int('ceil_mode', 1)],
        },
        { op: 'Reshape', in: ['a1', 'shape'], out: 'f1' },
        { op: 'BatchNormalization', in: ['f1', 'scale', 'bias', 'mean', 'var'], out: 'b1' },
        { op: 'MatMul', in: ['b1', 'fw'], out: 'z' },
        { op: 'Softmax', in: ['z'], out: 'y' },
      ],
    },
    'pad-and-ceil',
  );
});
