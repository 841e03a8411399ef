// decomposer bench --model DIR (issue #21): the engine figures of a model the user brought
// (imported from ONNX, or trained here) instead of a ResNet the bench builds, every line naming
// the model; a figure the model cannot have is one line saying why and what to do while the
// others run; a folder that holds no model, or --model beside --depth, is one message, exit 2.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { readFixtures } from './fixtures/onnx/fixtures.ts';
import { mnistDataset, untrainableModel } from './helpers/onnx-import.ts';
import { pixels, untrainedModel } from './helpers/fixtures.ts';
import { cli, jsonLines } from './helpers/cli.ts';
import { tempDir } from './helpers/temp.ts';
import { importModel } from '../src/core/node/workflows/import-model.ts';

type Figure = Record<string, unknown> & { figure: string };

let root = '';
/** pytorch/examples' MNIST net, imported: 28x28x1, 10 classes, batch norm folded. */
let mnist = '';

before(async () => {
  root = tempDir('bench-model');
  const fx = readFixtures().find((f) => f.name === 'mnist-opset11')!;
  mnist = path.join(root, 'mnist-net');
  const grey = mnistDataset(path.join(root, 'grey'), pixels(20), 20);
  await importModel(
    {
      file: fx.path,
      out: mnist,
      dataset: (size, fit) => ({ kind: 'mnist', family: 'mnist', path: grey, size, fit }),
      mean: fx.images!.mean,
      std: fx.images!.std,
    },
    { home: path.join(root, 'home') },
  );
});

function bench(args: string[], env: Record<string, string> = {}) {
  const r = cli(['bench', '--json', '--seconds', '0.2', '--batch', '8', ...args], {
    home: path.join(root, 'home'),
    env,
  });
  return { ...r, figures: jsonLines<Figure>(r.stdout) };
}

/** The model's name and where it came from, on a figure line, in place of depth and size. */
function assertNamed(f: Figure, model: string, source: RegExp, input: string): void {
  assert.equal(f.model, model, JSON.stringify(f));
  assert.match(String(f.source), source, JSON.stringify(f));
  assert.equal(f.input, input, JSON.stringify(f));
  assert.ok(!('depth' in f) && !('size' in f), JSON.stringify(f));
}

test('bench --model DIR measures an imported model: onnxruntime inference and training figures naming it, tfjs refused by name', () => {
  const r = bench(['--model', mnist, '--no-torch']);
  assert.equal(r.status, 0, r.stderr);
  const source = /^mnist-opset11\.onnx \(pytorch 1\.13\.0, opset 11\)$/;
  const model = r.figures.find((f) => f.figure === 'model')!;
  assertNamed(model, 'mnist-net', source, '28x28x1');
  assert.equal(model.classes, 10);
  assert.match(String(model.notes), /folded it into the convolutions/);
  for (const pool of [false, true]) {
    const t = r.figures.find((f) => f.figure === 'training' && f.engine === 'onnxruntime' && f.pool === pool);
    assert.ok(t, `training pool=${pool}: ${r.stdout}`);
    assertNamed(t, 'mnist-net', source, '28x28x1');
    assert.ok((t.images_per_second as number) > 0);
    assert.ok(!('torch_images_per_second' in t));
  }
  const inference = r.figures.find((f) => f.figure === 'inference' && f.engine === 'onnxruntime')!;
  assertNamed(inference, 'mnist-net', source, '28x28x1');
  assert.ok((inference.images_per_second as number) > 0, r.stdout);
  const masked = r.figures.find((f) => f.figure === 'module_evaluations')!;
  assertNamed(masked, 'mnist-net', source, '28x28x1');
  // The tfjs engines run tfjs-layers models only: one line per backend says so.
  const tfjs = r.figures.filter((f) => f.figure === 'backend');
  assert.deepEqual(
    tfjs.map((f) => f.backend),
    ['tensorflow', 'wasm', 'cpu'],
  );
  for (const f of tfjs) {
    assert.equal(f.available, false);
    assert.match(String(f.reason), /tfjs engines run only models in the tfjs-layers format/);
    assert.match(String(f.hint), /--backends onnxruntime/);
  }
  assert.ok(!r.figures.some((f) => f.figure === 'inference' && f.engine === 'tfjs'));
});

test('bench --model of a ResNet trained here: the tfjs figures and the decomposition figures on random images of its input and classes', async () => {
  const dir = await untrainedModel(path.join(root, 'resnet-here'), { inputSize: 16, classes: 4 });
  const r = bench([
    '--model',
    dir,
    '--no-torch',
    '--backends',
    'wasm',
    '--workers',
    '2',
    '--decomposition',
    '--per-class',
    '2',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const source = /^ResNet-8 trained here$/;
  for (const figure of ['inference', 'training']) {
    for (const pool of [false, true]) {
      const f = r.figures.find((x) => x.figure === figure && x.engine === 'tfjs' && x.pool === pool);
      assert.ok(f, `${figure} pool=${pool}: ${r.stdout}`);
      assertNamed(f, 'resnet-here', source, '16x16x3');
    }
  }
  const d = r.figures.find((f) => f.figure === 'decomposition')!;
  assert.ok(d, r.stdout);
  assertNamed(d, 'resnet-here', source, '16x16x3');
  assert.equal(d.classes, 4);
  assert.equal(d.epoch_images, 8);
  assert.match(String(d.images), /synthetic/);
  for (const figure of ['composed_evaluation', 'module_pass', 'portable_modules']) {
    const f = r.figures.find((x) => x.figure === figure);
    assert.ok(f, `${figure}: ${r.stdout}`);
    assertNamed(f, 'resnet-here', source, '16x16x3');
  }
});

test('bench --model of a layer without a training rule: the training figure says which and what to do, the others run; no PyTorch counterpart faked', async () => {
  const dir = await untrainableModel(path.join(root, 'odd'));
  // PyTorch is not turned off: it cannot run an imported graph, and one line says so.
  const r = bench(['--model', dir, '--backends', 'onnxruntime']);
  assert.equal(r.status, 0, r.stderr);
  const torch = r.figures.find((f) => f.figure === 'torch')!;
  assert.equal(torch.available, false);
  assert.match(String(torch.reason), /cannot run an imported graph/);
  const training = r.figures.filter((f) => f.figure === 'training');
  assert.equal(training.length, 1, r.stdout);
  assertNamed(training[0]!, 'odd', /^odd\.onnx \(test 1, opset 17\)$/, '6x6x3');
  assert.equal(training[0]!.available, false);
  assert.match(String(training[0]!.reason), /cannot be trained here .*"mid" \(Softmax\)/);
  assert.match(String(training[0]!.hint), /train on the onnxruntime engine only, with these layers/);
  const inference = r.figures.find((f) => f.figure === 'inference')!;
  assert.ok((inference.images_per_second as number) > 0, r.stdout);
  for (const f of r.figures)
    assert.ok(!Object.keys(f).some((k) => k.startsWith('torch_')), JSON.stringify(f));
});

test('bench --model whose one image overflows the activation budget: the training figure says so, inference still runs', () => {
  const r = bench(['--model', mnist, '--no-torch', '--backends', 'onnxruntime'], {
    DECOMPOSER_ACTIVATION_MIB: '0.01',
  });
  assert.equal(r.status, 0, r.stderr);
  const training = r.figures.filter((f) => f.figure === 'training');
  assert.equal(training.length, 1, r.stdout);
  assert.equal(training[0]!.available, false);
  assert.match(String(training[0]!.reason), /One 28x28x1 image .* over the activation budget of 0\.01 MiB/);
  assert.match(String(training[0]!.hint), /DECOMPOSER_ACTIVATION_MIB=/);
  assert.ok(r.figures.some((f) => f.figure === 'inference' && (f.images_per_second as number) > 0));
});

test('bench --model of a folder that holds no model, or beside --depth: one message, exit 2, no figure', () => {
  const empty = path.join(root, 'not-a-model');
  mkdirSync(empty, { recursive: true });
  const r = bench(['--model', empty]);
  assert.equal(r.status, 2, r.stderr);
  assert.deepEqual(
    r.figures.map((f) => Object.keys(f)),
    [['error']],
  );
  assert.match(
    r.stderr,
    /^error: No model at .*not-a-model.*model\.json\. Give the folder that holds model\.json/m,
  );
  const both = bench(['--model', mnist, '--depth', '8']);
  assert.equal(both.status, 2);
  assert.match(
    both.stderr,
    /--model measures the model in .*; --depth describes the ResNet .* Give either --model DIR, or --depth and --size\./,
  );
  assert.equal(both.figures.length, 1);
});
