import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { converged, leftPlateau, train, type TrainEvent } from '../src/core/node/train/trainer.ts';
import { augmentFor, validationSplit } from '../src/core/node/train/batches.ts';
import { TfjsPool } from '../src/core/node/engine/tfjs/pool.ts';
import { buildResNet } from '../src/core/node/models/resnet.ts';
import { DEFAULT_PREPROCESS, loadModelDir, modelToArtifacts } from '../src/core/node/models/io.ts';
import { topKAccuracy } from '../src/core/node/train/metrics.ts';
import { augmentedInputs } from '../src/core/node/engine/augment.ts';
import { toInputs } from '../src/core/node/graph/inputs.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { colourDataset } from './helpers/fixtures.ts';
import { runTrainChild } from './helpers/train-process.ts';
import { Rng } from '../src/core/node/data/random.ts';
import { tempDir } from './helpers/temp.ts';

test('training on a tiny dataset lowers the loss, keeps the best epoch and reports test accuracy', async () => {
  const events: TrainEvent[] = [];
  const r = await train({
    runDir: tempDir('train'),
    data: colourDataset({ train: 128 }),
    workers: 0,
    config: { depth: 8, epochs: 4, batchSize: 16, seed: 1, augment: false },
    onEvent: (e) => events.push(e),
  });
  const epochs = events.filter((e) => e.type === 'epoch');
  assert.equal(epochs.length, 4);
  assert.ok(epochs[3]!.loss < epochs[0]!.loss, `loss ${epochs[0]!.loss} -> ${epochs[3]!.loss}`);
  assert.ok(events.some((e) => e.type === 'batch' && e.imagesPerSecond > 0 && Number.isFinite(e.etaSeconds)));
  assert.equal(r.status, 'finished');
  const best = r.history.reduce((a, b) => (b.valAccuracy > a.valAccuracy ? b : a));
  assert.equal(r.bestEpoch, best.epoch);
  assert.ok(r.top1 > 0.5, `top-1 ${r.top1}`);
  assert.ok(r.top5 >= r.top1);
  assert.ok(r.modelDir);
});

test('early stopping: a baseline stops once validation accuracy has not improved for the patience, and says it converged', async () => {
  const runDir = tempDir('train');
  const data = colourDataset({ train: 128 });
  const config = { depth: 8, epochs: 15, batchSize: 16, seed: 1, augment: false, patience: 2 };
  const r = await train({ runDir, data, workers: 0, config });
  assert.equal(r.status, 'finished');
  assert.ok(
    r.stoppedEarly,
    `trained all ${r.epochsDone} epochs: ${r.history.map((h) => h.valAccuracy).join(' ')}`,
  );
  assert.equal(r.epochsDone, r.bestEpoch + 2, 'stopped exactly when the patience ran out');
  assert.equal(r.history.length, r.epochsDone);
  // The epochs after the best did not improve on it.
  for (const h of r.history.slice(r.bestEpoch)) assert.ok(h.valAccuracy <= r.valAccuracy);
  assert.ok(r.converged);
  // Running it again (a resume) trains nothing more: its patience has run out.
  const again = await train({ runDir, data, workers: 0, config });
  assert.equal(again.epochsDone, r.epochsDone);
  assert.equal(again.resumedFrom, r.epochsDone);
});

test('convergence: off the chance plateau, and no improvement over the last max(1, patience) epochs', () => {
  // Two classes: chance is 50%, so 54% has not left the plateau and 56% has.
  assert.equal(leftPlateau(0.54, 2), false);
  assert.equal(leftPlateau(0.56, 2), true);
  assert.equal(leftPlateau(0.19, 10), true);
  const h = { epochsDone: 10, bestEpoch: 10, bestVal: 0.9, classes: 2 };
  assert.equal(converged(h, 3), false, 'still improving at its last epoch');
  assert.equal(converged({ ...h, bestEpoch: 8 }, 3), false, 'the maximum came before the patience ran out');
  assert.equal(converged({ ...h, bestEpoch: 7 }, 3), true);
  assert.equal(converged({ ...h, bestEpoch: 9 }, 0), true, 'fixed epochs: not improving at the last one');
  assert.equal(converged({ ...h, bestEpoch: 2, bestVal: 0.5 }, 3), false, 'never left chance level');
});

test('the saved best checkpoint reloads and predicts identically to the engine', async () => {
  const runDir = tempDir('train');
  const data = colourDataset();
  const r = await train({ runDir, data, workers: 0, config: { depth: 8, epochs: 2, batchSize: 16 } });
  const { model, meta } = await loadModelDir(r.modelDir!, { inputSize: 16, classes: 4 });
  assert.equal(meta?.training?.bestEpoch, r.bestEpoch);
  assert.equal(meta?.training?.top1, r.top1);
  const x = tf.tensor4d(toInputs(data.test.images, data.test.count, 16, DEFAULT_PREPROCESS), [
    data.test.count,
    16,
    16,
    3,
  ]);
  const probs = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  assert.equal(topKAccuracy(probs, data.test.labels, 4, 1), r.top1);
});

const runChild = (runDir: string, epochs: number, killAfterEpoch?: number) =>
  runTrainChild(runDir, epochs, { killAfterEpoch });

test('a killed run resumes from its last checkpoint and ends exactly where an uninterrupted run does', async () => {
  const killedDir = tempDir('train');
  const first = await runChild(killedDir, 3, 1);
  assert.ok(first.killed, 'the child was killed mid-run');
  const resumed = await runChild(killedDir, 3);
  assert.equal(resumed.result?.resumedFrom, 1);
  assert.equal(resumed.result?.epochsDone, 3);

  const cleanDir = tempDir('train');
  const clean = await runChild(cleanDir, 3);
  assert.equal(clean.result?.resumedFrom, 0);
  // Seeded shuffling and augmentation per epoch, and the optimizer state in the checkpoint,
  // make the resumed run bit-identical to the uninterrupted one.
  const a = await readFile(path.join(killedDir, 'model', 'weights.bin'));
  const b = await readFile(path.join(cleanDir, 'model', 'weights.bin'));
  assert.ok(a.equals(b), 'resumed weights equal uninterrupted weights');
  assert.deepEqual(
    resumed.result!.history.map((h) => h.loss),
    clean.result!.history.map((h) => h.loss),
  );
  // Only the checkpoints the pointers name are kept.
  assert.ok((await readdir(path.join(killedDir, 'checkpoints'))).length <= 2);
});

test('cancelling keeps the finished epochs and a usable model', async () => {
  const ac = new AbortController();
  const r = await train({
    runDir: tempDir('train'),
    data: colourDataset(),
    workers: 0,
    config: { depth: 8, epochs: 5, batchSize: 16 },
    signal: ac.signal,
    onEvent: (e) => {
      if (e.type === 'epoch' && e.epoch === 2) ac.abort();
    },
  });
  assert.equal(r.status, 'cancelled');
  assert.equal(r.epochsDone, 2);
  assert.ok(r.modelDir);
  await loadModelDir(r.modelDir);
});

test('a run folder with other settings is refused rather than overwritten', async () => {
  const runDir = tempDir('train');
  await train({ runDir, data: colourDataset(), workers: 0, config: { depth: 8, epochs: 1, batchSize: 16 } });
  await assert.rejects(
    train({ runDir, data: colourDataset(), workers: 0, config: { depth: 14, epochs: 1, batchSize: 16 } }),
    (e) => isUserError(e) && /other settings/.test(e.message),
  );
});

test('the worker pool computes the same gradients and predictions as a single engine', async () => {
  const data = colourDataset({ train: 24 });
  const m = buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 3 });
  const artifacts = await modelToArtifacts(m);
  const per = 16 * 16 * 3;
  const results = [];
  for (const workers of [0, 2]) {
    const pool = await TfjsPool.create({ workers, backend: 'wasm' });
    try {
      await pool.load(artifacts, DEFAULT_PREPROCESS);
      const step = await pool.gradients(data.train.images, data.train.labels, 24, null, per);
      const probs = await pool.predict(data.train.images, 24, per, 4, 5);
      results.push({ step, grads: pool.grads.slice(), probs, size: pool.size });
    } finally {
      await pool.close();
    }
  }
  const [one, two] = results;
  assert.equal(two!.size, 2);
  assert.ok(Math.abs(one!.step.loss - two!.step.loss) < 1e-5);
  assert.equal(one!.step.correct, two!.step.correct);
  let maxDiff = 0;
  for (let i = 0; i < one!.grads.length; i++)
    maxDiff = Math.max(maxDiff, Math.abs(one!.grads[i]! - two!.grads[i]!));
  assert.ok(maxDiff < 1e-5, `gradient difference ${maxDiff}`);
  assert.deepEqual(Array.from(two!.probs), Array.from(one!.probs));
});

test('the validation split is seeded, disjoint and covers the training set', () => {
  const a = validationSplit(100, 0.1, 7);
  const b = validationSplit(100, 0.1, 7);
  assert.deepEqual(a, b);
  assert.equal(a.val.length, 10);
  assert.equal(new Set([...a.val, ...a.train]).size, 100);
  assert.notDeepEqual(validationSplit(100, 0.1, 8).val, a.val);
});

test('top-k accuracy counts a label among the k highest probabilities', () => {
  const probs = new Float32Array([0.1, 0.6, 0.3, 0.5, 0.2, 0.3, 0.1, 0.3, 0.6]);
  const labels = new Int32Array([1, 2, 0]);
  assert.equal(topKAccuracy(probs, labels, 3, 1), 1 / 3);
  assert.equal(topKAccuracy(probs, labels, 3, 2), 2 / 3);
  assert.equal(topKAccuracy(probs, labels, 3, 3), 1);
});

test('augmentation shifts with zero padding and mirrors exactly', () => {
  // A 2x2 image: pixel values 1..12 (RGB).
  const img = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
  const pre = { mean: 0, std: 1 };
  const flipped = augmentedInputs(img, 1, 2, pre, {
    dx: Int8Array.of(0),
    dy: Int8Array.of(0),
    flip: Uint8Array.of(1),
  });
  assert.deepEqual(Array.from(flipped), [4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9]);
  const shifted = augmentedInputs(img, 1, 2, pre, {
    dx: Int8Array.of(1),
    dy: Int8Array.of(0),
    flip: Uint8Array.of(0),
  });
  assert.deepEqual(Array.from(shifted), [4, 5, 6, 0, 0, 0, 10, 11, 12, 0, 0, 0]);
});

test('a half-written checkpoint folder is ignored on resume and the finished ones are kept', async () => {
  const runDir = tempDir('train');
  const data = colourDataset();
  const config = { depth: 8, epochs: 1, batchSize: 16 };
  await train({ runDir, data, workers: 0, config });
  const finished = await readFile(path.join(runDir, 'checkpoints', 'epoch-001', 'weights.bin'));
  // What a kill during the next checkpoint's write leaves behind: a folder no pointer names.
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(path.join(runDir, 'checkpoints', 'epoch-002'), { recursive: true });
  await writeFile(path.join(runDir, 'checkpoints', 'epoch-002', 'model.json'), '{"modelTop');
  const r = await train({ runDir, data, workers: 0, config: { ...config, epochs: 2 } });
  assert.equal(r.resumedFrom, 1);
  assert.equal(r.epochsDone, 2);
  await loadModelDir(path.join(runDir, 'checkpoints', 'epoch-002'));
  if (r.bestEpoch === 1)
    assert.ok(finished.equals(await readFile(path.join(runDir, 'checkpoints', 'epoch-001', 'weights.bin'))));
});

test('micro-batches bound activation memory and give the same gradients as one pass', async () => {
  const data = colourDataset({ train: 12 });
  const artifacts = await modelToArtifacts(buildResNet({ depth: 8, inputSize: 16, classes: 4, seed: 3 }));
  const per = 16 * 16 * 3;
  const grads: Float32Array[] = [];
  for (const mib of ['1000', '0.05']) {
    process.env.DECOMPOSER_ACTIVATION_MIB = mib;
    const pool = await TfjsPool.create({ workers: 0, backend: 'wasm' });
    try {
      await pool.load(artifacts, DEFAULT_PREPROCESS);
      await pool.gradients(data.train.images, data.train.labels, 12, null, per);
      grads.push(pool.grads.slice());
    } finally {
      await pool.close();
      delete process.env.DECOMPOSER_ACTIVATION_MIB;
    }
  }
  let maxDiff = 0;
  for (let i = 0; i < grads[0]!.length; i++)
    maxDiff = Math.max(maxDiff, Math.abs(grads[0]![i]! - grads[1]![i]!));
  assert.ok(maxDiff < 1e-5, `difference ${maxDiff}`);
});

test('augmentation never mirrors images whose class mirroring changes, and crops them as any other', () => {
  const mirrored = augmentFor(new Rng(9), 200, 4, true);
  const kept = augmentFor(new Rng(9), 200, 4, false);
  assert.ok(mirrored.flip.some((f) => f === 1));
  assert.ok(kept.flip.every((f) => f === 0));
  assert.deepEqual([kept.dx, kept.dy], [mirrored.dx, mirrored.dy]);
});
