// The MNIST family: IDX loaders on small files this test writes (gzip'd and raw, EMNIST's
// transposed images, every kind of bad file), finding a dataset on this machine, the
// download table and its mirror fallback, and one short end-to-end check on the real
// Fashion-MNIST files where the Debian package put them.
// The download table and its mirror fallback are exercised against a loopback server only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { LoadedDataset } from '../src/core/common/dataset.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { parseDatasetArg } from '../src/cli/datasets.ts';
import { datasetId, downloadDataset, foundSpecFromId, loadDataset } from '../src/core/node/data/index.ts';
import { decodeGreyInto } from '../src/core/node/data/images.ts';
import { greyInto } from '../src/core/node/data/grey.ts';
import { findMnist, mnistClassNames, type MnistSpec } from '../src/core/node/data/mnist.ts';
import { encodePng } from '../src/core/node/data/png.ts';
import { listFoundDatasets, resolveDataset } from '../src/core/node/data/catalogue.ts';
import { createCoreApi } from '../src/core/node/api.ts';
import { idx, pixels } from './helpers/fixtures.ts';
import { finished, until } from './helpers/jobs.ts';
import { tempDir } from './helpers/temp.ts';

const tmp = tempDir('mnist');
let n = 0;
const dir = (): string => {
  const d = path.join(tmp, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};
const cacheDir = path.join(tmp, 'cache');

const transpose = (img: Uint8Array, side = 28): Uint8Array => {
  const out = new Uint8Array(img.length);
  for (let k = 0; k < img.length / (side * side); k++)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++)
        out[k * side * side + x * side + y] = img[k * side * side + y * side + x]!;
  return out;
};

interface Release {
  train: number;
  test: number;
  gz: boolean;
  prefix?: string;
  labels?: (i: number) => number;
  images?: (count: number) => Uint8Array;
}

/** Writes the four files of a release into a new folder. */
function release(r: Release): string {
  const d = dir();
  const p = r.prefix ?? '';
  const names = p
    ? [
        `${p}-train-images-idx3-ubyte`,
        `${p}-train-labels-idx1-ubyte`,
        `${p}-test-images-idx3-ubyte`,
        `${p}-test-labels-idx1-ubyte`,
      ]
    : [
        'train-images-idx3-ubyte',
        'train-labels-idx1-ubyte',
        't10k-images-idx3-ubyte',
        't10k-labels-idx1-ubyte',
      ];
  const label = r.labels ?? ((i: number) => i % 10);
  const img = r.images ?? ((c: number) => pixels(c));
  const files = [
    idx([r.train, 28, 28], img(r.train)),
    idx(
      [r.train],
      Uint8Array.from({ length: r.train }, (_, i) => label(i)),
    ),
    idx([r.test, 28, 28], img(r.test)),
    idx(
      [r.test],
      Uint8Array.from({ length: r.test }, (_, i) => label(i + 1)),
    ),
  ];
  files.forEach((b, i) =>
    writeFileSync(path.join(d, names[i]! + (r.gz ? '.gz' : '')), r.gz ? gzipSync(b) : b),
  );
  return d;
}

const load = (spec: MnistSpec): Promise<LoadedDataset> => loadDataset(spec, { cacheDir });

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(isUserError(e), `a UserError, not ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.ok(e.hint.length > 10, 'says what to do');
    return true;
  });
}

test('IDX releases load gzip’d and raw alike: labels, class names, grey padded to 32 in three channels', async () => {
  const gz = await load({
    kind: 'mnist',
    family: 'fashion-mnist',
    path: release({ train: 12, test: 5, gz: true }),
  });
  const raw = await load({
    kind: 'mnist',
    family: 'fashion-mnist',
    path: release({ train: 12, test: 5, gz: false }),
  });
  for (const d of [gz, raw]) {
    assert.equal(d.info.kind, 'mnist');
    assert.equal(d.info.name, 'Fashion-MNIST');
    assert.deepEqual(d.info.classNames, mnistClassNames('fashion-mnist'));
    assert.equal(d.info.classNames[9], 'Ankle boot');
    assert.equal(d.info.imageSize, 32);
    assert.deepEqual(d.info.grey, { sourceSize: 28, fit: 'pad' });
    assert.deepEqual([d.train.count, d.test.count, d.train.size], [12, 5, 32]);
    assert.deepEqual([...d.train.labels.slice(0, 11)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
    assert.deepEqual([...d.test.labels], [1, 2, 3, 4, 5]);
  }
  assert.deepEqual(gz.train.images, raw.train.images);
  // Clothing may be mirrored by augmentation; digits may not (a mirrored 2 is no 2).
  assert.equal(gz.info.noMirror, undefined);
  const digits = await load({
    kind: 'mnist',
    family: 'mnist',
    path: release({ train: 12, test: 5, gz: true }),
  });
  assert.equal(digits.info.noMirror, true);
  // Image 3's pixel (y, x) sits at (y + 2, x + 2), the same in R, G and B; the border is black.
  const src = pixels(12);
  const per = 32 * 32 * 3;
  for (const [y, x] of [
    [0, 0],
    [5, 17],
    [27, 27],
  ] as const) {
    const at = 3 * per + ((y + 2) * 32 + x + 2) * 3;
    const want = src[3 * 784 + y * 28 + x]!;
    assert.deepEqual([...gz.train.images.subarray(at, at + 3)], [want, want, want]);
  }
  for (const [y, x] of [
    [0, 0],
    [1, 31],
    [31, 5],
    [30, 30],
  ] as const)
    assert.equal(gz.train.images[3 * per + (y * 32 + x) * 3], 0, `border (${y}, ${x})`);
});

test('resize scales a grey image to the canvas (bilinear), and pad needs a canvas of at least 28', async () => {
  const p = release({ train: 10, test: 2, gz: true });
  const d = await load({ kind: 'mnist', family: 'mnist', path: p, fit: 'resize', size: 64 });
  assert.equal(d.train.size, 64);
  assert.deepEqual(d.info.grey, { sourceSize: 28, fit: 'resize' });
  assert.equal(d.info.name, 'MNIST (resized to 64x64)');
  // A flat image stays flat at any size; a ramp stays monotone and spans its range.
  const flat = new Uint8Array(784).fill(200);
  const out = new Uint8Array(64 * 64 * 3);
  greyInto(flat, 28, false, 'resize', 64, out, 0);
  assert.ok(out.every((v) => v === 200));
  const ramp = Uint8Array.from({ length: 784 }, (_, i) => (i % 28) * 9);
  greyInto(ramp, 28, false, 'resize', 64, out, 0);
  const row = Array.from({ length: 64 }, (_, x) => out[(10 * 64 + x) * 3]!);
  for (let x = 1; x < 64; x++) assert.ok(row[x]! >= row[x - 1]!, 'monotone');
  assert.deepEqual([row[0], row[63]], [0, 243]);
  await rejectsWith(
    load({ kind: 'mnist', family: 'mnist', path: p, fit: 'pad', size: 24 }),
    'bad-size',
    /padded to 24x24/,
  );
  assert.notEqual(
    datasetId({ kind: 'mnist', family: 'mnist', path: p }),
    datasetId({ kind: 'mnist', family: 'mnist', path: p, fit: 'resize', size: 32 }),
    'the fit is part of the id',
  );
});

test('EMNIST: the split picks the files, images are transposed back, letters are numbered from 1', async () => {
  const images = (c: number) => transpose(pixels(c));
  const bal = release({
    train: 47,
    test: 3,
    gz: true,
    prefix: 'emnist-balanced',
    images,
    labels: (i) => i % 47,
  });
  const d = await load({ kind: 'mnist', family: 'emnist', path: bal, split: 'balanced' });
  assert.equal(d.info.classNames.length, 47);
  assert.deepEqual(d.info.classNames.slice(34, 38), ['Y', 'Z', 'a', 'b']);
  assert.equal(d.info.name, 'EMNIST balanced');
  // Stored transposed, read upright: the same pixels as the untransposed fixture.
  const src = pixels(47);
  const at = (5 * 32 * 32 + (2 + 3) * 32 + 2 + 20) * 3;
  assert.equal(d.train.images[at], src[5 * 784 + 3 * 28 + 20]);

  const letters = release({
    train: 26,
    test: 2,
    gz: false,
    prefix: 'emnist-letters',
    labels: (i) => (i % 26) + 1,
  });
  const l = await load({ kind: 'mnist', family: 'emnist', path: letters, split: 'letters' });
  assert.equal(l.info.classNames.length, 26);
  assert.equal(l.info.classNames[0], 'A/a');
  assert.deepEqual([...l.train.labels.slice(0, 3)], [0, 1, 2]);
  // The wrong split for the folder: the files it names are not there.
  await rejectsWith(
    load({ kind: 'mnist', family: 'emnist', path: letters, split: 'digits' }),
    'missing-files',
    /emnist-digits-train-images/,
  );
});

test('bad files: wrong magic, swapped files, counts that disagree, truncated data or gzip, labels out of range', async () => {
  const spec = (p: string): MnistSpec => ({ kind: 'mnist', family: 'mnist', path: p });
  // An images file that is not one (a labels file where the images should be).
  let p = release({ train: 10, test: 2, gz: false });
  writeFileSync(path.join(p, 'train-images-idx3-ubyte'), idx([10], new Uint8Array(10)));
  await rejectsWith(load(spec(p)), 'bad-format', /not an IDX image file.*0x00000801.*0x00000803/);
  // Signed bytes (type 0x09) are not what the family uses.
  p = release({ train: 10, test: 2, gz: false });
  writeFileSync(path.join(p, 't10k-labels-idx1-ubyte'), idx([2], new Uint8Array(2), 0x09));
  await rejectsWith(load(spec(p)), 'bad-format', /not an IDX label file/);
  // 10 images, 9 labels.
  p = release({ train: 10, test: 2, gz: true });
  writeFileSync(path.join(p, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([9], new Uint8Array(9))));
  await rejectsWith(load(spec(p)), 'count-mismatch', /10 images but .* 9 labels/);
  // The header promises more pixels than the file holds.
  p = release({ train: 10, test: 2, gz: false });
  const full = idx([10, 28, 28], pixels(10));
  writeFileSync(path.join(p, 'train-images-idx3-ubyte'), full.subarray(0, full.length - 100));
  await rejectsWith(
    load(spec(p)),
    'corrupt-data',
    /7740 bytes of data but its header \(10 x 28 x 28\) says 7840/,
  );
  // A gzip file cut short (an interrupted download).
  p = release({ train: 10, test: 2, gz: true });
  const z = gzipSync(full);
  writeFileSync(path.join(p, 'train-images-idx3-ubyte.gz'), z.subarray(0, z.length >> 1));
  await rejectsWith(load(spec(p)), 'corrupt-data', /could not be decompressed/);
  // Label 12 in a 10-class dataset.
  p = release({ train: 10, test: 2, gz: false, labels: (i) => (i === 4 ? 12 : 0) });
  await rejectsWith(load(spec(p)), 'corrupt-data', /label 12 at position 4/);
  // A missing file, a file for a path, no path at all.
  p = release({ train: 10, test: 2, gz: true });
  rmSync(path.join(p, 't10k-labels-idx1-ubyte.gz'));
  await rejectsWith(load(spec(p)), 'missing-files', /missing t10k-labels-idx1-ubyte\[\.gz\]/);
  await rejectsWith(load(spec(path.join(p, 'train-images-idx3-ubyte.gz'))), 'bad-format', /is a file/);
  await rejectsWith(load(spec(path.join(tmp, 'nowhere'))), 'not-found', /does not exist/);
});

test('a split too large for this machine’s memory is refused before decoding, naming its size and what to do; the same files load at a size that fits', async (t) => {
  const d = release({ train: 40, test: 10, gz: false });
  // A machine with 1 MiB of memory: 40 images at 64x64 (480 KiB) take more than 40% of it,
  // at 32x32 (120 KiB) they fit.
  t.mock.method(os, 'totalmem', () => 2 ** 20);
  await rejectsWith(
    load({ kind: 'mnist', family: 'fashion-mnist', path: d, fit: 'resize', size: 64 }),
    'dataset-too-large',
    /train-images-idx3-ubyte holds 40 images: decoded at 64x64 they take 0\.5 MiB, more than 40% of this machine's 1\.0 MiB of memory/,
  );
  const fits = await load({ kind: 'mnist', family: 'fashion-mnist', path: d, fit: 'resize', size: 32 });
  assert.equal(fits.train.count, 40);
});

test('found on this machine: <home>/downloads/NAME (and torchvision’s raw/ layout), by name and by id', async () => {
  const home = dir();
  assert.equal(findMnist('kmnist', home), null, 'nothing there yet');
  // A name with no path that is nowhere: one message naming where it looked and how to get it.
  assert.throws(
    () => parseDatasetArg('kmnist', 32, 1, { home }),
    (e) =>
      isUserError(e) && e.code === 'not-found' && /download kmnist/.test(e.hint) && e.message.includes(home),
  );
  const src = release({ train: 10, test: 2, gz: true });
  const target = path.join(home, 'downloads', 'kmnist', 'KMNIST', 'raw');
  mkdirSync(target, { recursive: true });
  for (const f of ['train-images', 'train-labels', 't10k-images', 't10k-labels']) {
    const name = `${f}-idx${f.endsWith('images') ? 3 : 1}-ubyte.gz`;
    copyFileSync(path.join(src, name), path.join(target, name));
  }
  const spec = parseDatasetArg('kmnist', 32, 1, { home });
  assert.equal(spec.kind, 'mnist');
  assert.equal((spec as MnistSpec).path, path.join(home, 'downloads', 'kmnist'));
  const listed = listFoundDatasets(home).find((d) => d.name === 'Kuzushiji-MNIST');
  assert.ok(listed, 'listed');
  assert.equal(listed.found, true);
  assert.equal(listed.source, path.join(home, 'downloads', 'kmnist'));
  assert.equal(listed.id, datasetId(spec));
  // The app resolves the listed id; a model's recorded id (any fit) resolves to the same files.
  assert.equal(datasetId(await resolveDataset(home, listed.id)), listed.id);
  const resized = parseDatasetArg('kmnist', 64, 1, { home, fit: 'resize' });
  assert.deepEqual(foundSpecFromId(datasetId(resized), home), resized);
  assert.equal(foundSpecFromId(datasetId(resized), dir()), null, 'not found in another data folder');
  // At other sizes than 32 the images are scaled unless told otherwise.
  assert.equal((parseDatasetArg('mnist:/x', 64, 1) as MnistSpec).fit, 'resize');
  assert.equal((parseDatasetArg('mnist:/x', 64, 1, { fit: 'pad' }) as MnistSpec).fit, 'pad');
  // Explicit paths and EMNIST split names parse as such.
  assert.deepEqual(parseDatasetArg('emnist-letters:/x/gzip', 32, 1), {
    kind: 'mnist',
    family: 'emnist',
    path: '/x/gzip',
    split: 'letters',
    size: 32,
    fit: 'pad',
  });
});

test('the app imports an MNIST-family folder and lists and previews it like any dataset', async () => {
  const home = dir();
  const api = createCoreApi({ home });
  try {
    const src = release({ train: 20, test: 4, gz: true });
    const job = await api.importDataset({ kind: 'kmnist', path: src });
    const done = await until(api, job);
    finished(done);
    const ds = (await api.listDatasets()).find((d) => d.id === done.result?.datasetId);
    assert.ok(ds, 'listed');
    assert.equal(ds.kind, 'mnist');
    assert.equal(ds.name, 'Kuzushiji-MNIST');
    assert.deepEqual([ds.imageSize, ds.trainCount, ds.testCount], [32, 20, 4]);
    assert.deepEqual(ds.grey, { sourceSize: 28, fit: 'pad' });
    const preview = await api.previewDataset(ds.id, 1);
    assert.equal(preview.images.length, 10);
  } finally {
    await api.close();
  }
});

test('predict feeds a grey model’s files as the loader fed its training images', async () => {
  const d = await load({ kind: 'mnist', family: 'mnist', path: release({ train: 3, test: 1, gz: true }) });
  const src = pixels(3);
  const file = path.join(dir(), 'digit.png');
  const grey = src.subarray(784, 2 * 784);
  writeFileSync(
    file,
    encodePng(
      Uint8Array.from({ length: 784 * 3 }, (_, i) => grey[Math.floor(i / 3)]!),
      28,
      28,
    ),
  );
  for (const fit of ['pad', 'resize'] as const) {
    const out = new Uint8Array(32 * 32 * 3);
    await decodeGreyInto(file, { sourceSize: 28, fit }, 32, out, 0);
    const want = new Uint8Array(32 * 32 * 3);
    greyInto(grey, 28, false, fit, 32, want, 0);
    assert.deepEqual(out, want, fit);
    if (fit === 'pad') assert.deepEqual(out, d.train.images.subarray(32 * 32 * 3, 2 * 32 * 32 * 3));
  }
});

test('download: the MNIST family’s files come from the address given (a mirror) and must match the published md5; unreachable says so', async () => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url?.startsWith('/mirror/')) {
      res.writeHead(200, { 'content-length': 5 });
      res.end('abcde');
    } else {
      res.writeHead(403);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const destDir = dir();
    // The test's files are not the release's, so the published md5 rejects them, and says so.
    await rejectsWith(
      downloadDataset('mnist', { destDir, url: `${base}/mirror/` }),
      'checksum-mismatch',
      /mirror\/train-images-idx3-ubyte\.gz has md5 .* but f68b3c2dcbeaaa9fbdd348bbdeb94873 was expected/,
    );
    assert.equal(
      existsSync(path.join(destDir, 'mnist', 'train-images-idx3-ubyte.gz.part')),
      false,
      'bad file deleted',
    );
    // A closed port: the clear offline message (no mirror to fall back to with --url).
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await assert.rejects(
      downloadDataset('fashion-mnist', { destDir, url: `http://127.0.0.1:${port}/` }),
      (e) => {
        assert.ok(isUserError(e) && e.code === 'offline', String(e));
        assert.match(e.message, /Could not reach/);
        // Where all four files go, and that the dataset is then found by name.
        assert.match(
          e.hint,
          /t10k-labels-idx1-ubyte\.gz .* into .*fashion-mnist; then --dataset fashion-mnist finds them/,
        );
        return true;
      },
    );
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  assert.ok(seen.includes('/mirror/train-images-idx3-ubyte.gz'));
});

const REAL = '/usr/share/datasets/fashion-mnist';

test('real Fashion-MNIST (Debian package): found by name, 60000 + 10000 images, a small model learns it and predict agrees', async (t) => {
  if (!existsSync(path.join(REAL, 'train-images-idx3-ubyte.gz'))) {
    t.skip(`${REAL} is absent (apt-get install dataset-fashion-mnist)`);
    return;
  }
  const home = dir();
  const spec = parseDatasetArg('fashion-mnist', 32, 1, { home });
  assert.equal((spec as MnistSpec).path, REAL);
  const d = await loadDataset(spec, { cacheDir });
  assert.deepEqual([d.train.count, d.test.count], [60000, 10000]);
  const perClass = new Array<number>(10).fill(0);
  for (const l of d.train.labels) perClass[l]!++;
  assert.deepEqual(perClass, new Array<number>(10).fill(6000));
  // Train a ResNet-8 briefly on the first 4000 images; it records how grey images were fed.
  const { train } = await import('../src/core/node/train/trainer.ts');
  const { openInference } = await import('../src/core/node/inference/index.ts');
  const { readModelDir } = await import('../src/core/node/models/io.ts');
  const { classifyFiles, openClassifier } = await import('../src/core/node/predict.ts');
  const { argmaxRows, topKAccuracy } = await import('../src/core/node/train/metrics.ts');
  const per = 32 * 32 * 3;
  const cut = (s: LoadedDataset['train'], k: number) => ({
    images: s.images.subarray(0, k * per),
    labels: s.labels.subarray(0, k),
    count: k,
    size: 32,
  });
  const small: LoadedDataset = {
    info: { ...d.info, trainCount: 4000, testCount: 500 },
    train: cut(d.train, 4000),
    test: cut(d.test, 500),
  };
  const r = await train({
    runDir: path.join(home, 'run'),
    data: small,
    workers: 0,
    config: { depth: 8, epochs: 2, batchSize: 32 },
  });
  const meta = (await readModelDir(r.modelDir!)).meta;
  assert.deepEqual(meta?.grey, { sourceSize: 28, fit: 'pad' });
  const engine = await openInference(r.modelDir!);
  const probs = await engine.predict(small.test.images, 500);
  await engine.close();
  const top1 = topKAccuracy(probs, small.test.labels, 10, 1);
  assert.ok(top1 > 0.5, `real images are learnt: top-1 ${top1} on 500 test images (chance 0.1)`);
  // The test images as 28x28 grey PNGs (the padded images' centre) classify as the loader fed them.
  const files: string[] = [];
  const pngDir = dir();
  for (let i = 0; i < 6; i++) {
    const rgb = new Uint8Array(28 * 28 * 3);
    for (let y = 0; y < 28; y++)
      rgb.set(
        small.test.images.subarray(i * per + ((y + 2) * 32 + 2) * 3, i * per + ((y + 2) * 32 + 30) * 3),
        y * 28 * 3,
      );
    const f = path.join(pngDir, `t${i}.png`);
    writeFileSync(f, encodePng(rgb, 28, 28));
    files.push(f);
  }
  const expected = argmaxRows(probs.subarray(0, 6 * 10), 10);
  const c = await openClassifier(r.modelDir!);
  try {
    const res = await classifyFiles(c, files, { topK: 1 });
    assert.deepEqual(
      files.map((f) => res.predictions.find((p) => p.file === f)!.top[0]!.index),
      [...expected],
    );
  } finally {
    await c.close();
  }
});
