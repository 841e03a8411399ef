// decomposer predict: a model or a repaired classifier on the user's own image files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Store } from '../src/core/node/store/store.ts';
import { argmaxRows } from '../src/core/node/train/metrics.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import { encodePng } from '../src/core/node/data/png.ts';
import { classifyFiles, openClassifier } from '../src/core/node/predict.ts';
import { runWizard, saveWizardOption } from '../src/core/node/workflows/wizard.ts';
import { colourDataset, quickRuns, trainedTiny } from './helpers/fixtures.ts';
import type { LoadedDataset } from '../src/core/common/dataset.ts';
import { tempDir } from './helpers/temp.ts';
import { cli } from './helpers/cli.ts';

const IMAGES = 8;

/** A ResNet-8 trained one epoch on `data`, in `home`/model. */
const tinyModel = (home: string, data: LoadedDataset) =>
  trainedTiny(data, { runDir: path.join(home, 'model') });

/** A ResNet-8 trained one epoch on 4 colour classes, and a folder with PNGs of its first test images. */
const fixture = (async () => {
  const data = colourDataset({ classes: 4, train: 64, test: 32, size: 16 });
  const home = tempDir('predict');
  const r = await tinyModel(home, data);
  const images = path.join(home, 'images');
  const px = 16 * 16 * 3;
  await mkdir(path.join(images, 'more'), { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    // Half in a sub-folder: folders are searched recursively.
    const file = path.join(images, i % 2 ? 'more' : '', `img-${i}.png`);
    await writeFile(file, encodePng(data.test.images.subarray(i * px, (i + 1) * px), 16, 16));
    files.push(file);
  }
  const corrupt = path.join(images, 'broken.png');
  await writeFile(corrupt, Buffer.from('\x89PNG\r\n\x1a\nnot really a png'));
  await writeFile(path.join(images, 'notes.txt'), 'not an image');
  await writeFile(path.join(images, 'labels.csv'), 'a,b\n1,2\n');
  const engine = await openInference(r.modelDir!);
  const expected = argmaxRows(await engine.predict(data.test.images.subarray(0, IMAGES * px), IMAGES), 4);
  await engine.close();
  return { data, home, modelDir: r.modelDir!, images, files, corrupt, expected };
})();

test('a model classifies a folder of PNGs as it classifies the same test images', async () => {
  const f = await fixture;
  const c = await openClassifier(f.modelDir);
  try {
    assert.equal(c.kind, 'model');
    assert.equal(c.inputSize, 16);
    assert.deepEqual(c.classNames, f.data.info.classNames);
    const progress: number[] = [];
    const r = await classifyFiles(c, [f.images], {
      topK: 3,
      batchSize: 3, // several batches, one with the corrupt file in it
      onProgress: (p) => (p.fraction === null ? undefined : progress.push(p.fraction)),
    });
    // Non-image files are ignored; the corrupt PNG is reported, the others classified.
    assert.deepEqual(
      r.unreadable.map((u) => u.file),
      [f.corrupt],
    );
    assert.match(r.unreadable[0]!.reason, /not a readable image/);
    assert.deepEqual(r.predictions.map((p) => p.file).sort(), [...f.files].sort());
    for (const p of r.predictions) {
      const i = f.files.indexOf(p.file);
      assert.equal(p.top.length, 3);
      assert.equal(p.top[0]!.index, f.expected[i], `${p.file}: the model's own prediction`);
      assert.equal(p.top[0]!.class, f.data.info.classNames[f.expected[i]!]);
      for (let k = 1; k < p.top.length; k++) assert.ok(p.top[k - 1]!.score >= p.top[k]!.score, 'sorted');
      assert.equal(new Set(p.top.map((t) => t.index)).size, 3);
    }
    assert.equal(progress.at(-1), 1);
    // --top limits the list (and never exceeds the classes); single files are taken as given.
    const one = await classifyFiles(c, [f.files[0]!, f.files[1]!], { topK: 1 });
    assert.deepEqual(
      one.predictions.map((p) => p.top.length),
      [1, 1],
    );
    assert.deepEqual(
      one.predictions.map((p) => p.top[0]!.index),
      [f.expected[0], f.expected[1]],
    );
    const all = await classifyFiles(c, [f.files[0]!], { topK: 10 });
    assert.equal(all.predictions[0]!.top.length, 4);
    // Missing paths and folders without images are refused with one clear message.
    await assert.rejects(classifyFiles(c, [path.join(f.home, 'nope')]), /does not exist/);
    const empty = path.join(f.home, 'empty');
    await mkdir(path.join(empty, 'sub'), { recursive: true });
    await writeFile(path.join(empty, 'sub', 'readme.md'), '# no images');
    await assert.rejects(classifyFiles(c, [empty]), /has no image files/);
  } finally {
    await c.close();
  }
});

test('a repaired classifier with a removed class never predicts it', async () => {
  const f = await fixture;
  const store = Store.open(path.join(f.home, 'db.sqlite'));
  let saved: string;
  const faulty = 2;
  try {
    const outcome = await runWizard(
      {
        model: f.modelDir,
        data: f.data,
        faulty,
        victim: 1,
        options: [3],
        decompose: { perClass: 6 },
        pairTrain: { depth: 8, epochs: 1, batchSize: 16 },
        seed: 1,
      },
      quickRuns(store, path.join(f.home, 'work')),
    );
    saved = await saveWizardOption(outcome, 3, f.home, 'repaired-3');
  } finally {
    store.close();
  }
  const c = await openClassifier(saved);
  try {
    assert.equal(c.kind, 'repaired');
    assert.equal(c.inputSize, 16);
    assert.deepEqual(c.removed, [faulty]);
    const r = await classifyFiles(c, [f.images], { topK: 4 });
    assert.equal(r.predictions.length, IMAGES);
    for (const p of r.predictions) {
      assert.notEqual(p.top[0]!.index, faulty);
      assert.ok(!p.top.some((t) => t.index === faulty), 'a removed class is not ranked at all');
      assert.equal(p.top.length, 3);
    }
    // The saved classifier on the files matches its scores on the original test images.
    const px = 16 * 16 * 3;
    const direct = argmaxRows(await c.scores(f.data.test.images.subarray(0, IMAGES * px), IMAGES), 4);
    for (const p of r.predictions) assert.equal(p.top[0]!.index, direct[f.files.indexOf(p.file)]);
  } finally {
    await c.close();
  }
});

test('decomposer predict --json and --csv through the CLI', async () => {
  const f = await fixture;
  const csv = path.join(f.home, 'out', 'predictions.csv');
  const r = cli(['predict', '--model', f.modelDir, '--top', '2', '--csv', csv, '--json', f.images]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    model: string;
    kind: string;
    classes: string[];
    predictions: { file: string; top: { class: string; index: number; score: number }[] }[];
    unreadable: { file: string; reason: string }[];
  };
  assert.equal(out.kind, 'model');
  assert.equal(out.model, path.resolve(f.modelDir));
  assert.deepEqual(out.classes, f.data.info.classNames);
  assert.equal(out.predictions.length, IMAGES);
  for (const p of out.predictions) {
    assert.equal(p.top.length, 2);
    assert.equal(p.top[0]!.index, f.expected[f.files.indexOf(p.file)]);
  }
  assert.deepEqual(
    out.unreadable.map((u) => u.file),
    [f.corrupt],
  );
  const lines = (await readFile(csv, 'utf8')).trim().split('\n');
  assert.equal(lines[0], 'file,rank,class,score');
  assert.equal(lines.length, 1 + IMAGES * 2);
  assert.ok(lines[1]!.startsWith(`${out.predictions[0]!.file},1,${out.predictions[0]!.top[0]!.class},`));

  // A folder without images: exit 2, one line, a JSON error.
  const none = cli(['predict', '--model', f.modelDir, '--json', path.join(f.home, 'model')]);
  assert.equal(none.status, 2);
  assert.match(JSON.parse(none.stdout).error.message, /has no image files/);
  const missing = cli(['predict', '--model', f.modelDir]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /No images given/);
});

test('predict --csv writes class and file names that look like formulas as text, not formulas', async () => {
  // Class names and file names come from the user's files; a spreadsheet runs a cell that
  // starts with = + - @.
  const data = colourDataset({ classes: 4, train: 32, test: 8, size: 16 });
  data.info.classNames = ['=1+2', '@SUM(A1)', '+cmd|calc', '-2+3'];
  const home = tempDir('predict-csv');
  const r = await tinyModel(home, data);
  const px = 16 * 16 * 3;
  const names = ['=HYPERLINK("x","y").png', '@SUM(A1).png'];
  for (const [i, name] of names.entries())
    await writeFile(
      path.join(home, name),
      encodePng(data.test.images.subarray(i * px, (i + 1) * px), 16, 16),
    );
  const run = cli(['predict', '--model', r.modelDir!, '--top', '4', '--csv', 'out.csv', ...names], {
    cwd: home,
  });
  assert.equal(run.status, 0, run.stderr);
  const lines = (await readFile(path.join(home, 'out.csv'), 'utf8')).trim().split('\n');
  assert.equal(lines.length, 1 + names.length * 4);
  const rows = lines.slice(1).map((l) => {
    const m = /^("(?:[^"]|"")*"|[^,]*),(\d+),([^,]*),([^,]*)$/.exec(l);
    assert.ok(m, `a CSV row of four cells: ${l}`);
    return { file: m[1]!.replace(/^"|"$/g, '').replace(/""/g, '"'), cls: m[3]!, score: Number(m[4]) };
  });
  // Every text cell is shown as text (a leading apostrophe); the names are otherwise as given.
  assert.deepEqual([...new Set(rows.map((x) => x.file))].sort(), names.map((n) => `'${n}`).sort());
  assert.deepEqual(
    [...new Set(rows.map((x) => x.cls))].sort(),
    data.info.classNames.map((n) => `'${n}`).sort(),
  );
  for (const x of rows) assert.ok(x.score >= 0 && x.score <= 1, 'scores stay numbers');
});
