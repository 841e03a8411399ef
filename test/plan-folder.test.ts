// A model folder that holds a plan (plan.json + weights.bin: what `decomposer import` writes)
// works wherever a model folder does, through the plan: the same model stored as a plan and as
// tfjs-layers predicts, decomposes, exports and evaluates alike from the command line; the tfjs
// engines and the ResNet baselines refuse it by name; per-channel preprocessing and 1-channel
// inputs are applied as the model records them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildResNet } from '../src/core/node/models/resnet.ts';
import {
  DEFAULT_PREPROCESS,
  modelToArtifacts,
  readModelDir,
  saveModelDir,
  type ModelArtifacts,
  type ModelMeta,
  type Preprocess,
} from '../src/core/node/models/io.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { planToSpec } from '../src/core/node/graph/plan-spec.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { fourColours, importSource } from './helpers/onnx-import.ts';
import { cli as decomposer } from './helpers/cli.ts';
import { tempDir } from './helpers/temp.ts';

const tmp = () => tempDir('plan');

const SOURCE = importSource();

function meta(a: ModelArtifacts, over: Partial<ModelMeta> = {}): ModelMeta {
  const plan = planModel(a);
  return {
    architecture: 'imported',
    source: SOURCE,
    inputSize: plan.input.shape[0]!,
    classes: plan.classes,
    classNames: Array.from({ length: plan.classes }, (_, i) => `c${i}`),
    datasetId: 'none',
    preprocess: DEFAULT_PREPROCESS,
    ...over,
  } as ModelMeta;
}

/** Small random weights so that images get clearly different answers. */
function randomize(m: tf.LayersModel, seed: number): void {
  let s = seed;
  const r = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (const l of m.layers) {
    const ws = l.getWeights();
    if (!ws.length) continue;
    l.setWeights(
      ws.map((w) =>
        tf.tensor(
          Float32Array.from({ length: w.size }, () => r() * 0.3),
          w.shape,
        ),
      ),
    );
  }
}

test('a tfjs model stored as a plan gives the same predictions, modules, exports and evaluation', async () => {
  const root = tmp();
  const model = buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 1 });
  randomize(model, 7);
  const layers = await modelToArtifacts(model);
  model.dispose();
  const tfjsDir = path.join(root, 'tfjs');
  const planDir = path.join(root, 'plan');
  const resnetMeta: ModelMeta = {
    architecture: 'resnet',
    depth: 8,
    batchNorm: false,
    inputSize: 16,
    classes: 4,
    classNames: ['red', 'green', 'blue', 'grey'],
    datasetId: 'none',
    preprocess: DEFAULT_PREPROCESS,
  };
  await saveModelDir(tfjsDir, layers, resnetMeta);
  const stored = planToSpec(planModel(layers));
  await saveModelDir(planDir, stored, meta(stored, { classNames: resnetMeta.classNames }));
  assert.ok(
    fs.existsSync(path.join(planDir, 'plan.json')) && !fs.existsSync(path.join(planDir, 'model.json')),
  );
  const read = await readModelDir(planDir);
  assert.equal(read.artifacts.kind, 'plan');
  assert.equal(read.meta?.architecture, 'imported');

  const data = await fourColours(path.join(root, 'data'));
  const home = path.join(root, 'home');
  const cli = (args: string[]) => decomposer(args, { home, timeout: 120_000 });
  const both = (args: (dir: string) => string[]) =>
    [tfjsDir, planDir].map((dir) => {
      const r = cli(args(dir));
      assert.equal(r.status, 0, `${args(dir).join(' ')}: ${r.stderr}`);
      return r.stdout;
    });

  const images = [path.join(data, 'red', 'red0.png'), path.join(data, 'grey', 'grey2.png')];
  const [pa, pb] = both((dir) => ['predict', '--model', dir, '--top', '4', '--json', ...images]);
  const scores = (out: string) =>
    (JSON.parse(out) as { predictions: { top: { score: number }[] }[] }).predictions.map((p) =>
      p.top.map((t) => t.score),
    );
  assert.deepEqual(scores(pb!), scores(pa!), 'predict: the same scores, bit for bit');

  const dataset = ['--dataset', `folder:${data}`, '--per-class', '4', '--idle-seconds', '0', '--json'];
  both((dir) => ['decompose', '--model', dir, ...dataset]);
  const [ea, eb] = both((dir) => ['evaluate', '--model', dir, '--dataset', `folder:${data}`, '--json']);
  const composed = (out: string) => JSON.parse(out) as { composed: unknown; model: unknown; ji: number };
  assert.deepEqual(composed(eb!).composed, composed(ea!).composed, 'evaluate: the same composed accuracy');
  assert.deepEqual(composed(eb!).model, composed(ea!).model);
  const [xa, xb] = [path.join(root, 'xa'), path.join(root, 'xb')];
  cli(['decompose', '--model', tfjsDir, '--export-onnx', 'latest', xa]);
  const ex = cli(['decompose', '--model', planDir, '--export-onnx', 'latest', xb]);
  assert.equal(ex.status, 0, ex.stderr);
  for (const f of fs.readdirSync(xa).filter((f) => f.endsWith('.onnx')))
    assert.ok(
      fs.readFileSync(path.join(xa, f)).equals(fs.readFileSync(path.join(xb, f))),
      `${f}: the same bytes`,
    );
  const [ta, tb] = both((dir) => ['experiment', 'decomposition', '--model', dir, ...dataset]);
  const rows = (out: string) =>
    (
      JSON.parse(out) as { decomposition: { approach: string; top1: number; ji: number }[] }
    ).decomposition.map((r) => [r.approach, r.top1, r.ji]);
  assert.deepEqual(rows(tb!), rows(ta!), 'Table 1: the same rows');

  // The tfjs engines and the ResNet baselines refuse it by name, before any work.
  for (const args of [
    ['predict', '--model', planDir, '--inference', 'tfjs', images[0]!],
    ['decompose', '--model', planDir, ...dataset, '--inference', 'tfjs'],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /Imported models run on onnxruntime/);
  }
  // A reuse grid's baseline trains the imported architecture itself (fresh weights, on
  // onnxruntime), never a ResNet in its place: --baseline-depth, which would, is refused.
  const deep = cli(['experiment', 'reuse', '--model', planDir, ...dataset, '--baseline-depth', '8']);
  assert.equal(deep.status, 2, deep.stderr);
  assert.match(deep.stderr, /Model A is imported .*: its baselines train its own architecture/);
  const out = path.join(root, 'grid');
  const grid = cli([
    'experiment',
    'reuse',
    '--model',
    planDir,
    ...dataset,
    '--pick',
    '2',
    '--baseline-epochs',
    '1',
    '--out',
    out,
  ]);
  assert.equal(grid.status, 0, grid.stderr);
  const said = grid.stdout + grid.stderr;
  assert.match(said, /baseline: training the architecture of .*plan from scratch on 2 classes/);
  assert.match(
    said,
    /model\.onnx has no BatchNormalization \(it never had any\): its architecture trains without normalisation, its 3 residual branches start at zero/,
  );
  const baselines = path.join(out, 'baselines');
  const trained = fs.readdirSync(baselines).map((d) => path.join(baselines, d, 'model'));
  assert.equal(trained.length, 1);
  const b = await readModelDir(trained[0]!);
  assert.equal(b.artifacts.kind, 'plan', 'the baseline is the imported architecture, stored as a plan');
  assert.equal(b.meta?.architecture, 'imported');
  if (b.meta?.architecture !== 'imported') return;
  assert.equal(b.meta.source.sha256, SOURCE.sha256);
  assert.equal(b.meta.classes, 2);
  assert.equal(b.meta.training?.backend, 'onnxruntime');
  const classes = (p: ModelArtifacts) =>
    planModel(p).nodes.map((n) => [n.className, n.kernelShape?.slice(0, -1).join('x') ?? '']);
  assert.deepEqual(
    classes(b.artifacts).slice(0, -2),
    classes(stored).slice(0, -2),
    'the same layers up to the head',
  );

  // The wizard's models (option 1's --train-better, option 2's pair) are the same architecture, trained here.
  const wiz = cli([
    'wizard',
    '--model',
    planDir,
    '--dataset',
    `folder:${data}`,
    '--per-class',
    '4',
    '--idle-seconds',
    '0',
    '--options',
    '1,2',
    '--pair-epochs',
    '1',
    '--train-better',
    '--better-epochs',
    '1',
    '--out',
    path.join(root, 'wizard'),
  ]);
  assert.equal(wiz.status, 0, wiz.stderr);
  assert.match(wiz.stdout + wiz.stderr, /training better: the architecture of .*plan on /);
  // Option 2's two-class model too: its modules then compose with the model's.
  assert.match(wiz.stdout + wiz.stderr, /training pair: the architecture of .*plan on /);
  assert.equal((await readModelDir(path.join(root, 'wizard', 'pair', 'model'))).artifacts.kind, 'plan');
  const better = await readModelDir(path.join(root, 'wizard', 'better', 'model'));
  assert.equal(better.artifacts.kind, 'plan');
  assert.equal(better.meta?.architecture, 'imported');
});

/** A small functional model over [h, w, c] inputs, stored as a plan with `pre`. */
async function storedModel(shape: [number, number, number], pre: Preprocess) {
  const input = tf.input({ shape });
  const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'c' }).apply(input);
  const f = tf.layers.flatten({ name: 'f' }).apply(c);
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'd' }).apply(f) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  randomize(m, 3);
  const stored = planToSpec(planModel(await modelToArtifacts(m)));
  const dir = path.join(tmp(), 'm');
  await saveModelDir(dir, stored, meta(stored, { preprocess: pre }));
  return { m, dir };
}

test('per-channel preprocessing after scaling to 0..1, and a grey model fed RGB pixels sees their luma', async () => {
  const pixels = (n: number, seed: number) =>
    Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed * 11) % 256);
  const rgb = pixels(2 * 8 * 8 * 3, 1);
  const colour = await storedModel([8, 8, 3], {
    scale: '0..1',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  });
  const x = Float32Array.from(
    rgb,
    (p, i) => (p / 255 - [0.485, 0.456, 0.406][i % 3]!) / [0.229, 0.224, 0.225][i % 3]!,
  );
  const want = colour.m.predict(tf.tensor4d(x, [2, 8, 8, 3])) as tf.Tensor;
  const e = await openInference(colour.dir);
  assert.deepEqual(e.layout.inputShape, [8, 8, 3]);
  const got = await e.predict(rgb, 2);
  await e.close();
  const wantData = want.dataSync();
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - wantData[i]!) < 1e-5, `colour ${i}`);

  const grey = await storedModel([8, 8, 1], { scale: '0..1', mean: [0.1307], std: [0.3081] });
  const g = await openInference(grey.dir);
  assert.deepEqual(g.layout.inputShape, [8, 8, 3], 'a grey model is fed RGB pixels');
  const luma = (i: number) =>
    Math.round(0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!);
  const gx = Float32Array.from({ length: 2 * 64 }, (_, i) => (luma(i) / 255 - 0.1307) / 0.3081);
  const gw = (grey.m.predict(tf.tensor4d(gx, [2, 8, 8, 1])) as tf.Tensor).dataSync();
  const gg = await g.predict(rgb, 2);
  for (let i = 0; i < gg.length; i++) assert.ok(Math.abs(gg[i]! - gw[i]!) < 1e-5, `grey ${i}`);
  // A grey image (equal channels) is seen exactly as its grey value.
  const flat = Uint8Array.from({ length: 64 * 3 }, (_, i) => [0, 17, 128, 255][Math.floor(i / 3) % 4]!);
  const fx = Float32Array.from({ length: 64 }, (_, i) => ([0, 17, 128, 255][i % 4]! / 255 - 0.1307) / 0.3081);
  const fw = (grey.m.predict(tf.tensor4d(fx, [1, 8, 8, 1])) as tf.Tensor).dataSync();
  const fg = await g.predict(flat, 1);
  for (let i = 0; i < fg.length; i++) assert.ok(Math.abs(fg[i]! - fw[i]!) < 1e-6, `flat grey ${i}`);
  await g.close();
  // The tfjs inference engine refuses a stored plan by name.
  await assert.rejects(
    openInference(grey.dir, { engine: 'tfjs' }),
    (err: unknown) => isUserError(err) && /Imported models run on onnxruntime/.test(err.message),
  );
});
