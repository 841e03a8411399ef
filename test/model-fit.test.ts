// One check of a model against a dataset (models/fit.ts), and the commands that must all use it:
// a model of one image size or class count given another's dataset, or a model folder whose
// metadata disagrees with its layers, exits 2 saying what to change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { type ModelMeta } from '../src/core/node/models/io.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { checkModelFitsData, checkModelMeta } from '../src/core/node/models/fit.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { colourDataset, makeTiny, untrainedModel } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';
import { cli as decomposer } from './helpers/cli.ts';

/** A small untrained ResNet saved as a model folder: 16×16 RGB, 4 classes. */
async function savedModel(
  metaOver: Partial<Extract<ModelMeta, { architecture: 'resnet' }>> = {},
): Promise<string> {
  const data = colourDataset();
  return untrainedModel(path.join(tempDir('fit'), 'model'), {
    inputSize: 16,
    classes: 4,
    meta: { classNames: data.info.classNames, datasetId: data.info.id, ...metaOver },
  });
}

const mismatch = (re: RegExp, hint: RegExp) => (e: unknown) => {
  assert.ok(isUserError(e), String(e));
  assert.equal(e.code, 'model-data-mismatch');
  assert.match(e.message, re);
  assert.match(e.hint, hint);
  return true;
};

test('the check: input size, class count, channels and metadata against the layers, each saying what to change', async () => {
  const dir = await savedModel();
  const { readModelDir } = await import('../src/core/node/models/io.ts');
  const read = await readModelDir(dir);
  const m = { dir, plan: planModel(read.artifacts), meta: read.meta };
  checkModelFitsData(m, colourDataset({ size: 16 }).info);
  assert.throws(
    () => checkModelFitsData(m, colourDataset({ size: 32 }).info),
    mismatch(
      /takes 16×16 images but the dataset colours-4-32 has 32×32/,
      /Use a dataset of 16×16 images .*--size 16/,
    ),
  );
  assert.throws(
    () => checkModelFitsData(m, colourDataset({ size: 16, classes: 6 }).info),
    mismatch(
      /has 4 classes but the dataset colours-6-16 has 6/,
      /model's 4 classes \(it was trained on colours-4-16\)/,
    ),
  );
  assert.throws(
    () => checkModelMeta({ ...m, meta: { ...read.meta!, classes: 10 } }),
    mismatch(/records 10 classes but its output layer has 4/, /restore the folder, or train the model again/),
  );
  assert.throws(
    () => checkModelMeta({ ...m, meta: { ...read.meta!, inputSize: 32 } }),
    mismatch(/records 32×32 images but its input layer takes 16×16/, /edited or damaged/),
  );
  assert.throws(
    () => checkModelMeta({ ...m, plan: { ...m.plan, input: { name: 'x', shape: [16, 16, 4] } } }),
    mismatch(
      /takes 4-channel images; Decomposer feeds RGB \(3 channels\) or grey \(1 channel\)/,
      /RGB or grey/,
    ),
  );
});

test('every command that puts a model to a dataset refuses a mismatch with exit 2 and the fix', async () => {
  const dir = await savedModel();
  const home = tempDir('fit');
  const cli = (args: string[]) => decomposer(args, { home });
  // Tiny ImageNet is 64×64 (the embedded datasets are generated at the model's size); this
  // model takes 16×16.
  const tiny = `tinyimagenet:${await makeTiny(tempDir('fit'))}`;
  for (const args of [
    ['decompose', '--model', dir, '--dataset', tiny],
    ['experiment', 'decomposition', '--model', dir, '--dataset', tiny],
    ['experiment', 'reuse', '--model', dir, '--dataset', tiny],
    ['wizard', '--model', dir, '--dataset', tiny],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /takes 16×16 images but the dataset .* has 64×64/, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at |images hold/);
  }
  // A model folder whose metadata names other classes than its output layer has.
  const damaged = await savedModel({
    classes: 10,
    classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
  });
  const img = path.join(tempDir('fit'), 'x.png');
  fs.writeFileSync(
    img,
    Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC',
      'base64',
    ),
  );
  for (const args of [
    ['predict', '--model', damaged, img],
    ['decompose', '--model', damaged],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /names 10 classes but its output layer has 4|records 10 classes but its output layer has 4/,
    );
  }
});
