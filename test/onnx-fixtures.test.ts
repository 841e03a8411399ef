// The ONNX fixtures of issue #21 (test/fixtures/onnx) stay what their JSON says: each file has
// the recorded bytes, loads (or fails to load) in onnxruntime-node as recorded, and reproduces
// its stored reference on its images, so the importer's tests compare against a reference that
// cannot drift from the files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import {
  argmax,
  FIXTURES_DIR,
  readFixtures,
  recipePixels,
  runFixture,
  sha256,
  type Fixture,
} from './fixtures/onnx/fixtures.ts';

const fixtures = readFixtures();
const byName = new Map(fixtures.map((f) => [f.name, f]));

/** float32 outputs of the same file on the same engine: equal but for the kernels a CPU picks. */
function close(got: number, want: number): boolean {
  return Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want));
}

test('every ONNX fixture has its JSON, and every JSON its fixture with the recorded bytes', () => {
  const onnxFiles = readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.onnx'));
  assert.deepEqual(onnxFiles.sort(), fixtures.map((f) => f.file).sort());
  for (const fx of fixtures) {
    const bytes = readFileSync(fx.path);
    assert.equal(bytes.length, fx.bytes, `${fx.file}: size`);
    assert.equal(sha256(bytes), fx.sha256, `${fx.file}: rerun make_fixtures.py and references.ts`);
  }
});

test('the issue’s cases are all there: opsets 11 and 17, BatchNorm kept and folded, NHWC, bad inputs', () => {
  const refs = fixtures.filter((f) => f.expect === 'reference');
  const opsets = new Set(refs.map((f) => f.opsets?.['ai.onnx']));
  for (const o of [11, 17]) assert.ok(opsets.has(o), `a reference fixture at opset ${o}`);
  for (const bn of ['present', 'folded'] as const)
    assert.ok(
      refs.some((f) => f.batchNorm === bn && f.ops?.Add),
      `a residual net with BatchNorm ${bn}`,
    );
  assert.ok(refs.some((f) => f.inputs?.[0]?.layout === 'nhwc' && f.ops?.Transpose && f.ops?.MatMul));
  assert.ok(
    refs.some((f) => f.inputs?.[0]?.shape.join() === '1,1,28,28'),
    'a fixed-batch 1x28x28 export',
  );
  const ops = new Set(refs.flatMap((f) => Object.keys(f.ops ?? {})));
  for (const op of ['Clip', 'Pad', 'Softmax', 'LogSoftmax', 'AveragePool', 'MaxPool', 'Flatten', 'Gemm'])
    assert.ok(ops.has(op), `some reference fixture has ${op}`);
  for (const bad of ['truncated', 'external-data', 'two-inputs', 'rank2-input', 'lstm', 'grouped-conv'])
    assert.ok(byName.has(`bad-${bad}`), `bad-${bad}`);
  // The missing weights file must stay missing.
  assert.equal(existsSync(path.join(FIXTURES_DIR, 'bad-external-data.weights')), false);
});

test('each fixture with a reference reproduces it in onnxruntime-node', async () => {
  const refs = fixtures.filter((f): f is Fixture & Required<Pick<Fixture, 'reference' | 'images'>> =>
    Boolean(f.reference && f.images),
  );
  assert.equal(refs.length, fixtures.filter((f) => f.expect === 'reference').length);
  for (const fx of refs) {
    assert.equal(sha256(recipePixels(fx.images)), fx.reference.pixelsSha256, `${fx.name}: the image recipe`);
    const rows = await runFixture(fx);
    assert.equal(rows.length, fx.reference.outputs.length);
    rows.forEach((row, i) => {
      const want = fx.reference.outputs[i]!;
      assert.equal(row.length, want.length, `${fx.name} image ${i}: outputs`);
      row.forEach((x, j) =>
        assert.ok(close(x, want[j]!), `${fx.name} image ${i} output ${j}: ${x} vs ${want[j]}`),
      );
      assert.equal(argmax(row), fx.reference.top1[i]);
    });
  }
});

test('fixtures that must be refused load in onnxruntime with the recorded inputs; the unloadable ones do not load', async () => {
  for (const fx of fixtures.filter((f) => f.expect !== 'reference')) {
    if (fx.expect.startsWith('unloadable')) {
      // For the reason recorded, not any: a missing weights file is not a parse error.
      const why = fx.expect.includes('external data')
        ? /External data path does not exist/
        : /Protobuf parsing failed/;
      await assert.rejects(ort.InferenceSession.create(fx.path), why, fx.name);
      continue;
    }
    const session = await ort.InferenceSession.create(fx.path);
    try {
      assert.deepEqual(
        session.inputNames,
        fx.inputs?.map((i) => i.name),
        fx.name,
      );
      assert.deepEqual(
        session.outputNames,
        fx.outputs?.map((o) => o.name),
        fx.name,
      );
    } finally {
      await session.release();
    }
  }
});
