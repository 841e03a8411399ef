// decomposer import (issue #21): every ONNX fixture made by PyTorch's exporter and in tf2onnx's
// shape is read into a model folder whose probabilities agree with onnxruntime running the
// original file on the same preprocessed images (to 1e-4), on every path the commands take:
// the plain and the masked inference graphs, decomposition's features and two-node heads,
// portable modules, and predict on image files. The import says what each file is (layout,
// output, batch norm kept or folded).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { readFixtures, type Fixture } from './fixtures/onnx/fixtures.ts';
import {
  mnistDataset,
  moduleProbabilities,
  probabilities,
  recipePngs,
  rgbPixels,
  tenColours,
} from './helpers/onnx-import.ts';
import { pixels } from './helpers/fixtures.ts';
import { cli } from './helpers/cli.ts';
import { tempDir } from './helpers/temp.ts';
import type { DatasetSpec } from '../src/core/common/dataset.ts';
import { importModel } from '../src/core/node/workflows/import-model.ts';
import { openInference, convertToOnnx } from '../src/core/node/inference/index.ts';
import { headNode, planModel } from '../src/core/node/graph/plan.ts';
import { readModelDir } from '../src/core/node/models/io.ts';
import { decodeModel } from '../src/core/node/graph/onnx-proto.ts';
import {
  channelHead,
  composedScores,
  headLogits,
  concernedProbability,
} from '../src/core/node/decompose/index.ts';
import { loadModuleSet } from '../src/core/node/decompose/files.ts';
import { classifyFiles, openClassifier } from '../src/core/node/predict.ts';

const refs = readFixtures().filter((f) => f.expect === 'reference');
let root = '';
let grey = '';
let colour = '';

before(async () => {
  root = tempDir('import');
  grey = mnistDataset(path.join(root, 'grey'), pixels(20), 20);
  colour = await tenColours(path.join(root, 'colour'));
});

/** The dataset a fixture is judged on: 10 grey classes at 28, 10 colour classes at 32. */
const datasetOf = (size: number): DatasetSpec =>
  size === 28
    ? { kind: 'mnist', family: 'mnist', path: grey, size, fit: 'pad' }
    : { kind: 'folder', path: colour, size };

const close = (got: ArrayLike<number>, want: readonly number[], what: string, tol = 1e-4) => {
  for (let k = 0; k < want.length; k++)
    assert.ok(Math.abs(got[k]! - want[k]!) <= tol, `${what}[${k}]: ${got[k]} vs ${want[k]}`);
};

async function imported(fx: Fixture): Promise<string> {
  const out = path.join(root, 'models', fx.name);
  if (fs.existsSync(path.join(out, 'plan.json'))) return out;
  await importModel(
    {
      file: fx.path,
      out,
      dataset: datasetOf,
      mean: fx.images!.mean,
      std: fx.images!.std,
    },
    { home: path.join(root, 'home') },
  );
  return out;
}

test('every fixture imports as what it is, and gives onnxruntime’s probabilities to 1e-4: plain, masked, features and modules that remove nothing', async () => {
  for (const fx of refs) {
    const dir = await imported(fx);
    const read = await readModelDir(dir);
    const meta = read.meta!;
    assert.equal(meta.architecture, 'imported');
    if (meta.architecture !== 'imported') continue;
    assert.equal(meta.source.batchNorm, fx.batchNorm, `${fx.name}: batch norm`);
    assert.equal(meta.source.layout, fx.inputs![0]!.layout, `${fx.name}: layout`);
    assert.equal(meta.source.output, fx.output, `${fx.name}: output`);
    assert.equal(meta.source.sha256, fx.sha256);
    assert.equal(meta.source.format === 'onnx' && meta.source.opset, fx.opsets!['ai.onnx']);
    const plan = planModel(read.artifacts);
    const n = fx.images!.count;
    const c = plan.classes;
    const px = rgbPixels(fx);
    const engine = await openInference(dir);
    try {
      const plain = await engine.predict(px, n);
      const ones = new Map(
        plan.maskable.map((m) => [m.name, new Float32Array(m.shape.reduce((a, b) => a * b, 1)).fill(1)]),
      );
      const masked = await engine.predictMasked(px, n, ones);
      const features = await engine.predictFeatures!(px, n);
      const head = headNode(plan);
      const f = head.inShape[0]!;
      fx.reference!.outputs.forEach((row, i) => {
        const want = probabilities(fx, row);
        close(plain.subarray(i * c), want, `${fx.name} image ${i}`);
        close(masked.subarray(i * c), want, `${fx.name} masked image ${i}`);
        const modules = moduleProbabilities(fx, row);
        const fromFeatures = Array.from({ length: c }, (_, k) => {
          const [zc, zu] = headLogits(channelHead(head, k), features, i * f);
          return concernedProbability(zc, zu);
        });
        close(fromFeatures, modules, `${fx.name} modules (features) image ${i}`);
      });
      // The composed classifier of modules that remove nothing, as --export-onnx writes it.
      const bytes = convertToOnnx(plan, {
        input: 'uint8',
        preprocess: meta.preprocess,
        modules: Array.from({ length: c }, (_, k) => ({ removed: new Map(), head: channelHead(head, k) })),
      });
      const session = await ort.InferenceSession.create(bytes);
      const [h, w] = plan.input.shape;
      const r = await session.run({ pixels: new ort.Tensor('uint8', px, [n, h!, w!, 3]) });
      const composed = r.probabilities!.data as Float32Array;
      fx.reference!.outputs.forEach((row, i) =>
        close(
          composed.subarray(i * c),
          moduleProbabilities(fx, row),
          `${fx.name} portable composed image ${i}`,
        ),
      );
      await session.release();
    } finally {
      await engine.close();
    }
  }
});

test('predict reads the reference images from PNG files and scores them as onnxruntime does', async () => {
  for (const fx of refs) {
    const dir = await imported(fx);
    const files = await recipePngs(fx, path.join(root, 'png', fx.name));
    const classifier = await openClassifier(dir);
    try {
      const { predictions } = await classifyFiles(classifier, files, { topK: 10 });
      predictions.forEach((p, i) => {
        const want = probabilities(fx, fx.reference!.outputs[i]!);
        for (const t of p.top)
          assert.ok(Math.abs(t.score - want[t.index]!) <= 1e-4, `${fx.name} ${p.file} class ${t.index}`);
        assert.equal(p.top[0]!.index, fx.reference!.top1[i]);
      });
    } finally {
      await classifier.close();
    }
  }
  // And from the command line, for a PyTorch RGB model, a grey one and a tf2onnx NHWC one.
  for (const name of ['cnn-opset17', 'mnist-opset11', 'tf2onnx-flatten']) {
    const fx = refs.find((f) => f.name === name)!;
    const files = fs
      .readdirSync(path.join(root, 'png', name))
      .map((f) => path.join(root, 'png', name, f))
      .sort();
    const r = cli(['predict', '--model', await imported(fx), '--top', '10', '--json', ...files]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { predictions: { top: { index: number; score: number }[] }[] };
    out.predictions.forEach((p, i) => {
      const want = probabilities(fx, fx.reference!.outputs[i]!);
      for (const t of p.top) assert.ok(Math.abs(t.score - want[t.index]!) <= 1e-4, `${name} CLI image ${i}`);
    });
  }
});

test('features flattened from NCHW (PyTorch) reach the dense layer in the plan’s H, W, C order; NHWC (tf2onnx) ones as they are', async () => {
  // mnist: Reshape of [N, 8, 6, 6] (C, H, W) into 288 features; fc1.weight is [16, 288].
  const fx = refs.find((f) => f.name === 'mnist-opset11')!;
  const plan = planModel((await readModelDir(await imported(fx))).artifacts);
  const dense = plan.nodes.find((n) => n.op === 'dense')!;
  const { decodeModel } = await import('../src/core/node/graph/onnx-proto.ts');
  const file = decodeModel(fs.readFileSync(fx.path)) as {
    graph: { initializer: { name: string; rawData: number[] }[] };
  };
  const raw = file.graph.initializer.find((t) => t.name === 'fc1.weight')!.rawData;
  const w = new Float32Array(Uint8Array.from(raw).buffer);
  const [h, wd, c] = [6, 6, 8];
  for (const [ch, y, x, o] of [
    [0, 0, 1, 0],
    [3, 2, 5, 7],
    [7, 5, 5, 15],
  ] as const) {
    const torchFeature = (ch * h + y) * wd + x;
    const planFeature = (y * wd + x) * c + ch;
    assert.equal(dense.kernel![planFeature * 16 + o], w[o * 288 + torchFeature]);
  }
  // tf2onnx flattens NHWC itself (Transpose back, then Reshape): the rows stay in order.
  const tfx = refs.find((f) => f.name === 'tf2onnx-flatten')!;
  const tplan = planModel((await readModelDir(await imported(tfx))).artifacts);
  const tdense = tplan.nodes.find((n) => n.op === 'dense')!;
  const tfile = decodeModel(fs.readFileSync(tfx.path)) as typeof file;
  const traw = tfile.graph.initializer.find((t) => t.name.endsWith('dense/MatMul/ReadVariableOp:0'))!.rawData;
  assert.deepEqual(Array.from(tdense.kernel!), Array.from(new Float32Array(Uint8Array.from(traw).buffer)));
});

test('the app imports a model with the typed API and lists it on the Models page with where it came from', async () => {
  const { createCoreApi } = await import('../src/core/node/api.ts');
  const { addImported } = await import('../src/core/node/data/catalogue.ts');
  const { loadDataset } = await import('../src/core/node/data/index.ts');
  const home = path.join(root, 'app-home');
  const spec: DatasetSpec = { kind: 'folder', path: colour, size: 32 };
  const data = await loadDataset(spec, { cacheDir: path.join(home, 'cache') });
  await addImported(home, spec, data.info);
  const api = createCoreApi({ home });
  try {
    const fx = refs.find((f) => f.name === 'residual-folded-opset17')!;
    const out = path.join(root, 'app-model');
    const view = await api.importModel({
      file: fx.path,
      out,
      dataset: data.info.id,
      mean: fx.images!.mean,
      std: fx.images!.std,
    });
    assert.equal(view.dir, out);
    assert.equal(view.source.batchNorm, 'folded');
    assert.match(view.notes.join(' '), /folded into the convolutions.*TrainingMode\.PRESERVE/);
    const listed = (await api.listModels()).find((m) => m.dir === out)!;
    assert.equal(listed.runId, null);
    assert.equal(listed.source?.file, 'residual-folded-opset17.onnx');
    assert.equal(listed.source?.sha256, fx.sha256);
    assert.deepEqual(listed.classNames, data.info.classNames);
    // A bad call is refused by the API's schema, naming the field, before anything is read.
    await assert.rejects(
      api.importModel({ file: fx.path, out: path.join(root, 'app-bad'), dataset: data.info.id, std: [0] }),
      /std\[0\]: must be a number from 0\.000001 to 1000/,
    );
    assert.equal(fs.existsSync(path.join(root, 'app-bad')), false);
  } finally {
    await api.close();
  }
});

test('export-model writes an imported model back as one ONNX file that onnxruntime runs with its preprocessing, agreeing with the original', async () => {
  for (const name of ['cnn-opset17', 'mnist-opset11', 'tf2onnx-flatten', 'residual-bn-opset17']) {
    const fx = refs.find((f) => f.name === name)!;
    const dir = await imported(fx);
    const file = path.join(root, 'exported', `${name}.onnx`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const r = cli(['export-model', dir, file, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const session = await ort.InferenceSession.create(file);
    const n = fx.images!.count;
    const { width, height } = fx.images!;
    const out = await session.run({ pixels: new ort.Tensor('uint8', rgbPixels(fx), [n, height, width, 3]) });
    await session.release();
    // The file says what its outputs are and where the model came from.
    const props = (decodeModel(fs.readFileSync(file)) as { metadataProps: { key: string; value: string }[] })
      .metadataProps;
    const prop = (k: string) => props.find((p) => p.key === k)?.value;
    assert.deepEqual(JSON.parse(prop('class_names')!), (await readModelDir(dir)).meta!.classNames);
    assert.equal((JSON.parse(prop('source')!) as { sha256: string }).sha256, fx.sha256);
    const probs = out.probs!.data as Float32Array;
    const c = probs.length / n;
    fx.reference!.outputs.forEach((row, i) =>
      close(probs.subarray(i * c), probabilities(fx, row), `${name} exported, image ${i}`),
    );
    // An existing file is never replaced.
    const again = cli(['export-model', dir, file]);
    assert.equal(again.status, 2, again.stderr);
    assert.match(again.stderr, /exists already/);
  }
});

test('decompose --export-onnx on an imported model writes modules that onnxruntime runs with the model’s own preprocessing', async () => {
  // ImageNet's mean and std, not ours: the exported graph must apply them itself.
  const fx = refs.find((f) => f.name === 'cnn-opset17')!;
  const dir = await imported(fx);
  const home = path.join(root, 'home-export');
  const d = cli(
    [
      'decompose',
      '--model',
      dir,
      '--dataset',
      `folder:${colour}`,
      '--per-class',
      '4',
      '--idle-seconds',
      '0',
      '--json',
    ],
    { home },
  );
  assert.equal(d.status, 0, d.stderr);
  const out = path.join(root, 'modules-onnx');
  const x = cli(['decompose', '--model', dir, '--export-onnx', 'latest', out], { home });
  assert.equal(x.status, 0, x.stderr);
  const modulesDir = path.join(dir, 'modules');
  const setDir = fs
    .readdirSync(modulesDir)
    .filter((f) => fs.statSync(path.join(modulesDir, f)).isDirectory())
    .map((f) => path.join(modulesDir, f))[0]!;
  const plan = planModel((await readModelDir(dir)).artifacts);
  const set = await loadModuleSet(setDir, { plan });
  assert.ok(
    set.modules.some((m) => [...m.removed.values()].some((r) => r.includes(1))),
    'the modules remove something',
  );
  const n = fx.images!.count;
  const px = rgbPixels(fx);
  const engine = await openInference(dir);
  let want: Float32Array;
  try {
    want = (await composedScores([{ engine, set }], px, n, { exact: true })).scores;
  } finally {
    await engine.close();
  }
  const session = await ort.InferenceSession.create(path.join(out, 'composed.onnx'));
  const [h, w] = plan.input.shape;
  const r = await session.run({ pixels: new ort.Tensor('uint8', px, [n, h!, w!, 3]) });
  await session.release();
  close(r.probabilities!.data as Float32Array, Array.from(want), 'exported composed modules');
});
