import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import * as tar from 'tar';
import type { DatasetSpec, Progress } from '../src/core/common/dataset.ts';
import { isUserError } from '../src/core/common/errors.ts';
import {
  confusablePair,
  datasetId,
  embeddedDatasets,
  generateSynthetic,
  loadDataset,
  Rng,
} from '../src/core/node/data/index.ts';
import { addImported, loadById, readImported, resolveDataset } from '../src/core/node/data/catalogue.ts';
import { parseDatasetArg } from '../src/cli/datasets.ts';
import { combineSpecs } from '../src/core/node/data/combined.ts';
import { TINY_COLOURS, jpeg, makeFolder, makeTiny } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

const tmp = tempDir('data');
let n = 0;
const dir = (name: string): string => {
  const d = path.join(tmp, `${name}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

async function rejectsUser(p: Promise<unknown>, code: string, mentions: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should mention ${m}`);
    assert.ok(e.hint.length > 0);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// CIFAR fixtures: pixel value of record r, channel c, pixel i is (r * 31 + c * 101 + i) & 255.

const pix = (r: number, c: number, i: number): number => (r * 31 + c * 101 + i) & 255;

function cifarRecords(first: number, labels: number[][]): Buffer {
  const lb = labels[0].length;
  const rec = lb + 3072;
  const b = Buffer.alloc(labels.length * rec);
  labels.forEach((l, k) => {
    const r = first + k;
    l.forEach((v, j) => (b[k * rec + j] = v));
    for (let c = 0; c < 3; c++) for (let i = 0; i < 1024; i++) b[k * rec + lb + c * 1024 + i] = pix(r, c, i);
  });
  return b;
}

const C10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

function makeCifar10(root: string): string {
  const d = path.join(root, 'cifar-10-batches-bin');
  mkdirSync(d, { recursive: true });
  for (let b = 1; b <= 5; b++)
    writeFileSync(
      path.join(d, `data_batch_${b}.bin`),
      cifarRecords((b - 1) * 2, [[(b * 2 - 2) % 10], [(b * 2 - 1) % 10]]),
    );
  writeFileSync(path.join(d, 'test_batch.bin'), cifarRecords(100, [[3], [7], [9]]));
  writeFileSync(path.join(d, 'batches.meta.txt'), C10_NAMES.join('\n') + '\n\n');
  return d;
}

function makeCifar100(root: string): string {
  const d = path.join(root, 'cifar-100-binary');
  mkdirSync(d, { recursive: true });
  writeFileSync(
    path.join(d, 'train.bin'),
    cifarRecords(0, [
      [1, 11],
      [2, 22],
      [19, 99],
      [0, 0],
    ]),
  );
  writeFileSync(
    path.join(d, 'test.bin'),
    cifarRecords(50, [
      [5, 55],
      [6, 66],
    ]),
  );
  writeFileSync(
    path.join(d, 'fine_label_names.txt'),
    Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n'),
  );
  writeFileSync(
    path.join(d, 'coarse_label_names.txt'),
    Array.from({ length: 20 }, (_, i) => `coarse${i}`).join('\n'),
  );
  return d;
}

async function pack(cwd: string, folder: string, file: string): Promise<string> {
  await tar.c({ gzip: true, file, cwd, portable: true }, [folder]);
  return file;
}

function checkPixels(images: Uint8Array, k: number, r: number): void {
  for (const i of [0, 1, 31, 32, 500, 1023]) {
    for (let c = 0; c < 3; c++)
      assert.equal(images[k * 3072 + i * 3 + c], pix(r, c, i), `record ${r} pixel ${i} channel ${c}`);
  }
}

test('CIFAR-10 from a folder: CHW planar becomes HWC, labels and names', async () => {
  const root = dir('c10');
  makeCifar10(root);
  const ds = await loadDataset({ kind: 'cifar10', path: root }, { cacheDir: dir('cache') });
  assert.equal(ds.info.kind, 'cifar10');
  assert.deepEqual(ds.info.classNames, C10_NAMES);
  assert.equal(ds.train.count, 10);
  assert.equal(ds.test.count, 3);
  assert.equal(ds.train.images.length, 10 * 32 * 32 * 3);
  assert.deepEqual([...ds.train.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...ds.test.labels], [3, 7, 9]);
  for (let k = 0; k < 10; k++) checkPixels(ds.train.images, k, k);
  for (let k = 0; k < 3; k++) checkPixels(ds.test.images, k, 100 + k);
  // Every byte, for one record.
  const full = new Uint8Array(3072);
  for (let i = 0; i < 1024; i++) for (let c = 0; c < 3; c++) full[i * 3 + c] = pix(4, c, i);
  assert.deepEqual(ds.train.images.subarray(4 * 3072, 5 * 3072), full);
});

test('CIFAR-10 from the .tar.gz archive equals the folder', async () => {
  const root = dir('c10a');
  makeCifar10(root);
  const archive = await pack(root, 'cifar-10-batches-bin', path.join(root, 'cifar-10-binary.tar.gz'));
  const a = await loadDataset({ kind: 'cifar10', path: archive }, { cacheDir: dir('cache') });
  const f = await loadDataset(
    { kind: 'cifar10', path: path.join(root, 'cifar-10-batches-bin') },
    { cacheDir: dir('cache') },
  );
  assert.deepEqual(a.train.images, f.train.images);
  assert.deepEqual(a.test.labels, f.test.labels);
  assert.deepEqual(a.info.classNames, C10_NAMES);
});

test('CIFAR-100: fine labels by default, coarse on request, archive and folder', async () => {
  const root = dir('c100');
  makeCifar100(root);
  const archive = await pack(root, 'cifar-100-binary', path.join(root, 'cifar-100-binary.tar.gz'));
  const fine = await loadDataset({ kind: 'cifar100', path: archive }, { cacheDir: dir('cache') });
  assert.equal(fine.info.classNames.length, 100);
  assert.equal(fine.info.classNames[99], 'fine99');
  assert.deepEqual([...fine.train.labels], [11, 22, 99, 0]);
  assert.deepEqual([...fine.test.labels], [55, 66]);
  for (let k = 0; k < 4; k++) checkPixels(fine.train.images, k, k);
  checkPixels(fine.test.images, 1, 51);
  const coarse = await loadDataset(
    { kind: 'cifar100', path: path.join(root, 'cifar-100-binary'), labels: 'coarse' },
    { cacheDir: dir('cache') },
  );
  assert.equal(coarse.info.classNames.length, 20);
  assert.equal(coarse.info.classNames[19], 'coarse19');
  assert.deepEqual([...coarse.train.labels], [1, 2, 19, 0]);
  assert.notEqual(
    datasetId({ kind: 'cifar100', path: root }),
    datasetId({ kind: 'cifar100', path: root, labels: 'coarse' }),
  );
});

test('CIFAR bad input: truncated archive, partial record, missing files, missing path', async () => {
  const root = dir('c10bad');
  makeCifar10(root);
  const archive = await pack(root, 'cifar-10-batches-bin', path.join(root, 'cifar-10-binary.tar.gz'));
  const whole = readFileSync(archive);
  const cut = path.join(root, 'cut.tar.gz');
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
  await rejectsUser(
    loadDataset({ kind: 'cifar10', path: cut }, { cacheDir: dir('cache') }),
    'corrupt-archive',
    [cut],
  );
  const garbage = path.join(root, 'garbage.tar.gz');
  writeFileSync(garbage, Buffer.from('this is not an archive at all, just text'.repeat(20)));
  await assert.rejects(
    loadDataset({ kind: 'cifar10', path: garbage }, { cacheDir: dir('cache') }),
    (e) => isUserError(e) && e.message.includes(garbage),
  );

  const d = path.join(root, 'cifar-10-batches-bin');
  writeFileSync(path.join(d, 'data_batch_3.bin'), Buffer.alloc(3073 * 2 + 100));
  await rejectsUser(loadDataset({ kind: 'cifar10', path: d }, { cacheDir: dir('cache') }), 'corrupt-data', [
    'data_batch_3.bin',
    'whole number',
  ]);
  rmSync(path.join(d, 'data_batch_3.bin'));
  await rejectsUser(loadDataset({ kind: 'cifar10', path: d }, { cacheDir: dir('cache') }), 'missing-files', [
    'data_batch_3.bin',
  ]);
  const nowhere = path.join(root, 'does-not-exist');
  await rejectsUser(
    loadDataset({ kind: 'cifar10', path: nowhere }, { cacheDir: dir('cache') }),
    'not-found',
    [nowhere],
  );
  await rejectsUser(
    loadDataset({ kind: 'tinyimagenet', path: nowhere }, { cacheDir: dir('cache') }),
    'not-found',
    [nowhere],
  );
  await rejectsUser(
    loadDataset({ kind: 'folder', path: nowhere, size: 32 }, { cacheDir: dir('cache') }),
    'not-found',
    [nowhere],
  );
});

test('cache: second load comes from the cache, is identical, and survives a failed load', async () => {
  const root = dir('cache-src');
  const d = makeCifar10(root);
  const cacheDir = dir('cache');
  const stages: string[] = [];
  const first = await loadDataset(
    { kind: 'cifar10', path: d },
    { cacheDir, onProgress: (p) => stages.push(p.stage) },
  );
  assert.ok(!stages.includes('Loaded from cache'));
  const files = (await fsp.readdir(cacheDir)).filter((f) => f.endsWith('.dataset'));
  assert.equal(files.length, 1);
  assert.ok(!(await fsp.readdir(cacheDir)).some((f) => f.endsWith('.tmp')));
  const cachePath = path.join(cacheDir, files[0]);
  const stages2: string[] = [];
  const second = await loadDataset(
    { kind: 'cifar10', path: d },
    { cacheDir, onProgress: (p) => stages2.push(p.stage) },
  );
  assert.ok(stages2.includes('Loaded from cache'));
  assert.deepEqual(second.train.images, first.train.images);
  assert.deepEqual(second.train.labels, first.train.labels);
  assert.deepEqual(second.test.images, first.test.images);
  assert.deepEqual(second.info, first.info);

  // A corrupt (truncated) cache is ignored and rewritten.
  const good = readFileSync(cachePath);
  writeFileSync(cachePath, good.subarray(0, good.length - 1000));
  const stages3: string[] = [];
  const third = await loadDataset(
    { kind: 'cifar10', path: d },
    { cacheDir, onProgress: (p) => stages3.push(p.stage) },
  );
  assert.ok(!stages3.includes('Loaded from cache'));
  assert.deepEqual(third.train.images, first.train.images);
  assert.deepEqual(readFileSync(cachePath), good);

  // A leftover temporary file from a killed writer is never read back.
  writeFileSync(`${cachePath}.999.abcd.tmp`, good.subarray(0, 100));
  const fourth = await loadDataset({ kind: 'cifar10', path: d }, { cacheDir });
  assert.deepEqual(fourth.train.images, first.train.images);

  // The source becomes corrupt: one clear error, the finished cache file is untouched.
  writeFileSync(path.join(d, 'data_batch_2.bin'), Buffer.alloc(5000));
  await rejectsUser(loadDataset({ kind: 'cifar10', path: d }, { cacheDir }), 'corrupt-data', [
    'data_batch_2.bin',
  ]);
  assert.deepEqual(readFileSync(cachePath), good);
});

// ---------------------------------------------------------------------------------------
// Tiny ImageNet

test('Tiny ImageNet folder: wnids order, names, val as test, grayscale to RGB', async () => {
  const root = await makeTiny(dir('tiny'));
  const colours = TINY_COLOURS;

  const ds = await loadDataset(
    { kind: 'tinyimagenet', path: path.dirname(root) },
    { cacheDir: dir('cache') },
  );
  assert.deepEqual(ds.info.classNames, ['Egyptian cat', 'goldfish']);
  assert.equal(ds.info.imageSize, 64);
  assert.equal(ds.train.count, 6);
  assert.equal(ds.test.count, 2);
  assert.deepEqual([...ds.train.labels], [0, 0, 0, 1, 1, 1]);
  assert.deepEqual([...ds.test.labels], [1, 0]);
  const px = 64 * 64 * 3;
  const at = (set: Uint8Array, k: number, i: number): number[] => [
    ...set.subarray(k * px + i * 3, k * px + i * 3 + 3),
  ];
  const near = (a: number[], b: number[]): void =>
    a.forEach((v, j) => assert.ok(Math.abs(v - b[j]) <= 3, `${a} vs ${b}`));
  near(at(ds.train.images, 0, 100), colours[0]);
  near(at(ds.train.images, 4, 2000), colours[1]);
  const g = at(ds.train.images, 2, 777); // grayscale JPEG: three equal channels
  assert.equal(g[0], g[1]);
  assert.equal(g[1], g[2]);
  near(at(ds.test.images, 0, 5), colours[1]);

  writeFileSync(path.join(root, 'val', 'val_annotations.txt'), 'val_0.JPEG\tn99\t0\t0\t10\t10\n');
  await rejectsUser(
    loadDataset({ kind: 'tinyimagenet', path: root }, { cacheDir: dir('cache') }),
    'corrupt-data',
    ['val_annotations.txt', 'n99'],
  );
  await rejectsUser(
    loadDataset({ kind: 'tinyimagenet', path: path.join(root, 'train') }, { cacheDir: dir('cache') }),
    'missing-files',
    ['wnids.txt'],
  );
});

// ---------------------------------------------------------------------------------------
// Image folders

test('image folder: sorted classes, resize, seeded stratified split, non-images skipped', async () => {
  const root = dir('folder');
  const red: [number, number, number] = [250, 10, 10];
  const green: [number, number, number] = [10, 250, 10];
  mkdirSync(path.join(root, 'zebra', 'nested'), { recursive: true });
  mkdirSync(path.join(root, 'apple'));
  mkdirSync(path.join(root, 'empty'));
  for (let i = 0; i < 10; i++) {
    const w = 20 + i * 7;
    const h = 90 - i * 5;
    await sharp({
      create: { width: w, height: h, channels: 4, background: { r: red[0], g: red[1], b: red[2], alpha: 1 } },
    })
      .png()
      .toFile(path.join(root, 'apple', `a${i}.png`));
    await jpeg(path.join(root, 'zebra', i < 5 ? '' : 'nested', `z${i}.jpg`), 40 + i, 33, green);
  }
  writeFileSync(path.join(root, 'apple', 'notes.txt'), 'not an image');
  writeFileSync(path.join(root, 'zebra', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00, 1, 2, 3]));
  writeFileSync(path.join(root, 'empty', 'readme.md'), '# nothing');
  writeFileSync(path.join(root, '.DS_Store'), 'x');

  const details: string[] = [];
  const spec = { kind: 'folder' as const, path: root, size: 16, testFraction: 0.3, seed: 7 };
  const ds = await loadDataset(spec, {
    cacheDir: dir('cache'),
    onProgress: (p: Progress) => p.detail && details.push(p.detail),
  });
  assert.deepEqual(ds.info.classNames, ['apple', 'zebra']);
  assert.equal(ds.info.imageSize, 16);
  assert.equal(ds.train.count + ds.test.count, 20);
  assert.equal(ds.test.count, 6); // 3 per class
  assert.equal([...ds.test.labels].filter((l) => l === 0).length, 3);
  assert.equal(ds.train.images.length, 14 * 16 * 16 * 3);
  const warnings = ds.info.warnings ?? [];
  for (const f of [
    path.join('apple', 'notes.txt'),
    path.join('zebra', 'broken.jpg'),
    path.join('empty', 'readme.md'),
  ]) {
    assert.ok(
      warnings.some((w) => w.includes(f)),
      `warnings should name ${f}: ${warnings.join(' | ')}`,
    );
    assert.ok(
      details.some((d) => d.includes(f)),
      `progress should name ${f}`,
    );
  }
  assert.ok(warnings.some((w) => w.includes('empty')));
  // Every pixel has its class colour.
  const px = 16 * 16 * 3;
  for (let k = 0; k < ds.train.count; k++) {
    const want = ds.train.labels[k] === 0 ? red : green;
    for (const i of [0, 37, 255])
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(ds.train.images[k * px + i * 3 + c] - want[c]) <= 4);
  }
  // Same seed, same split; another seed, another split.
  const again = await loadDataset(spec, { cacheDir: dir('cache') });
  assert.deepEqual(again.test.images, ds.test.images);
  assert.deepEqual(again.info.warnings, ds.info.warnings);
  const other = await loadDataset({ ...spec, seed: 8 }, { cacheDir: dir('cache') });
  assert.equal(other.test.count, 6);
  assert.notDeepEqual(other.train.labels, ds.train.labels);
});

test('image folder without images is one UserError naming it', async () => {
  const root = dir('noimg');
  mkdirSync(path.join(root, 'cats'));
  writeFileSync(path.join(root, 'cats', 'a.txt'), 'hello');
  await rejectsUser(
    loadDataset({ kind: 'folder', path: root, size: 32 }, { cacheDir: dir('cache') }),
    'no-images',
    [root],
  );
  const flat = dir('flat');
  writeFileSync(path.join(flat, 'x.txt'), 'hello');
  await rejectsUser(
    loadDataset({ kind: 'folder', path: flat, size: 32 }, { cacheDir: dir('cache') }),
    'no-images',
    [flat],
  );
});

// ---------------------------------------------------------------------------------------
// Combined datasets (Tiny ImageNet + a folder of added classes, the paper's 202-class setting)

/** The images of one label, in order, as one byte array. */
function imagesOf(
  set: { images: Uint8Array; labels: Int32Array; count: number; size: number },
  label: number,
) {
  const px = set.size * set.size * 3;
  const parts: number[] = [];
  for (let k = 0; k < set.count; k++) if (set.labels[k] === label) parts.push(k);
  const out = new Uint8Array(parts.length * px);
  parts.forEach((k, j) => out.set(set.images.subarray(k * px, (k + 1) * px), j * px));
  return out;
}

test('combined: Tiny ImageNet + a two-class folder gives N+2 classes, offset labels, both splits', async () => {
  const tinyRoot = await makeTiny(dir('tiny'));
  const added = await makeFolder(dir('added'), [
    ['person', [240, 200, 160]],
    ['gorilla', [40, 40, 40]],
  ]);
  const tiny = { kind: 'tinyimagenet' as const, path: tinyRoot };
  const folder = { kind: 'folder' as const, path: added, size: 64 };
  const spec: DatasetSpec = { kind: 'combined', parts: [tiny, folder] };
  const cacheDir = dir('cache');
  const stages: string[] = [];
  const ds = await loadDataset(spec, { cacheDir, onProgress: (p) => stages.push(p.stage) });
  // The parts, loaded on their own (another cache), for comparison.
  const t = await loadDataset(tiny, { cacheDir: dir('cache') });
  const f = await loadDataset(folder, { cacheDir: dir('cache') });
  const N = t.info.classNames.length;

  assert.equal(ds.info.kind, 'combined');
  assert.equal(ds.info.id, datasetId(spec));
  assert.match(ds.info.id, /^combined-[0-9a-f]{12}$/);
  assert.equal(ds.info.name, 'Tiny ImageNet + 2 folder classes');
  assert.ok(ds.info.source.includes(tinyRoot) && ds.info.source.includes(added), ds.info.source);
  assert.equal(ds.info.imageSize, 64);
  assert.deepEqual(ds.info.classNames, [...t.info.classNames, 'gorilla', 'person']);
  assert.equal(ds.info.classNames.length, N + 2);
  assert.equal(ds.info.warnings, undefined);
  assert.equal(ds.train.count, t.train.count + f.train.count);
  assert.equal(ds.test.count, t.test.count + f.test.count);
  assert.equal(ds.info.trainCount, ds.train.count);
  assert.equal(ds.info.testCount, ds.test.count);
  assert.equal(ds.train.images.length, ds.train.count * 64 * 64 * 3);
  assert.equal(ds.test.images.length, ds.test.count * 64 * 64 * 3);
  // Part 0 first and unchanged, then part 1 with its labels offset by N.
  const tb = t.train.images.length;
  assert.deepEqual(ds.train.images.subarray(0, tb), t.train.images);
  assert.deepEqual(ds.train.images.subarray(tb), f.train.images);
  assert.deepEqual([...ds.train.labels], [...t.train.labels, ...[...f.train.labels].map((l) => l + N)]);
  assert.deepEqual([...ds.test.labels], [...t.test.labels, ...[...f.test.labels].map((l) => l + N)]);
  // The first added class is exactly the folder's first class, resized to 64x64.
  assert.deepEqual(imagesOf(ds.train, N), imagesOf(f.train, 0));
  assert.deepEqual(imagesOf(ds.test, N), imagesOf(f.test, 0));
  assert.ok(imagesOf(ds.train, N).length > 0);
  // Progress names the part; each part is cached on its own, the combination is not.
  assert.ok(stages.some((s) => s.startsWith('part 1/2: ')));
  assert.ok(stages.some((s) => s.startsWith('part 2/2: ')));
  const cached = (await fsp.readdir(cacheDir)).filter((x) => x.endsWith('.dataset')).sort();
  assert.deepEqual(cached, [`${datasetId(folder)}.dataset`, `${datasetId(tiny)}.dataset`].sort());
  const again: string[] = [];
  const ds2 = await loadDataset(spec, { cacheDir, onProgress: (p) => again.push(p.stage) });
  assert.deepEqual(
    again.filter((s) => s.endsWith('Loaded from cache')),
    ['part 1/2: Loaded from cache', 'part 2/2: Loaded from cache'],
  );
  assert.deepEqual(ds2.train.images, ds.train.images);
  assert.deepEqual(ds2.info, ds.info);

  // Ids: stable, and the order of the parts matters.
  assert.equal(datasetId({ kind: 'combined', parts: [{ ...tiny }, { ...folder }] }), ds.info.id);
  const swapped: DatasetSpec = { kind: 'combined', parts: [folder, tiny] };
  assert.notEqual(datasetId(swapped), ds.info.id);
  const sw = await loadDataset(swapped, { cacheDir });
  assert.deepEqual(sw.info.classNames, ['gorilla', 'person', ...t.info.classNames]);
  assert.equal(sw.info.name, '2 folder classes + Tiny ImageNet');
  assert.deepEqual(imagesOf(sw.train, 2), imagesOf(t.train, 0));

  // An imported combination is listed and loaded by its id.
  const home = dir('home');
  await addImported(home, spec, ds.info);
  assert.deepEqual(
    (await readImported(home)).map((d) => d.info.id),
    [ds.info.id],
  );
  assert.deepEqual(await resolveDataset(home, ds.info.id), spec);
  const byId = await loadById(home, ds.info.id);
  assert.deepEqual(byId.info.classNames, ds.info.classNames);
  assert.deepEqual(byId.test.images, ds.test.images);
});

test('combined: size mismatch, name collisions, bad specs', async () => {
  const tinyRoot = await makeTiny(dir('tiny'));
  const added = await makeFolder(
    dir('added'),
    [
      ['goldfish', [250, 120, 0]],
      ['person', [240, 200, 160]],
    ],
    3,
  );
  const tiny = { kind: 'tinyimagenet' as const, path: tinyRoot };

  // A 32x32 folder part with 64x64 Tiny ImageNet: one error, before anything is loaded.
  const cacheDir = dir('cache');
  await rejectsUser(
    loadDataset({ kind: 'combined', parts: [tiny, { kind: 'folder', path: added, size: 32 }] }, { cacheDir }),
    'size-mismatch',
    ['part 1 (tinyimagenet', 'is 64x64', `part 2 (folder ${added}) is 32x32`],
  );
  await assert.rejects(
    loadDataset({ kind: 'combined', parts: [tiny, { kind: 'folder', path: added, size: 32 }] }, { cacheDir }),
    (e) => isUserError(e) && e.hint.includes('64x64'),
  );
  assert.deepEqual(await fsp.readdir(cacheDir), []);
  await rejectsUser(
    loadDataset(
      {
        kind: 'combined',
        parts: [
          { kind: 'synthetic', name: 'shapes', size: 32, trainPerClass: 2, testPerClass: 1 },
          { kind: 'folder', path: added, size: 64 },
        ],
      },
      { cacheDir },
    ),
    'size-mismatch',
    ['32x32', '64x64'],
  );

  // A class name also in an earlier part gets a suffix naming its part, and a warning.
  const ds = await loadDataset(
    { kind: 'combined', parts: [tiny, { kind: 'folder', path: added, size: 64 }] },
    { cacheDir },
  );
  assert.deepEqual(ds.info.classNames, ['Egyptian cat', 'goldfish', 'goldfish (folder 2)', 'person']);
  const w = ds.info.warnings ?? [];
  assert.equal(w.length, 1, w.join(' | '));
  assert.ok(w[0].includes('"goldfish"') && w[0].includes('"goldfish (folder 2)"'), w[0]);
  assert.ok(w[0].includes(added), w[0]);

  // Two folders with the same classes: the second part's names all get the suffix.
  const both = await loadDataset(
    {
      kind: 'combined',
      parts: [
        { kind: 'folder', path: added, size: 16 },
        { kind: 'folder', path: added, size: 16, seed: 5 },
      ],
    },
    { cacheDir },
  );
  assert.deepEqual(both.info.classNames, ['goldfish', 'person', 'goldfish (folder 2)', 'person (folder 2)']);
  assert.equal(both.info.name, '2 folder classes + 2 folder classes');

  // A part's error names the part.
  const nowhere = path.join(tmp, 'nowhere');
  await rejectsUser(
    loadDataset(
      { kind: 'combined', parts: [tiny, { kind: 'folder', path: nowhere, size: 64 }] },
      { cacheDir },
    ),
    'not-found',
    ['Part 2 (folder', nowhere],
  );
  // Fewer than two parts, or a combined part: bad specs.
  await rejectsUser(loadDataset({ kind: 'combined', parts: [tiny] }, { cacheDir }), 'bad-spec', [
    'two parts',
  ]);
  await rejectsUser(
    // A nested part is refused at run time (the type already rules it out).
    loadDataset(
      { kind: 'combined', parts: [tiny, { kind: 'combined', parts: [tiny, tiny] } as never] },
      { cacheDir },
    ),
    'bad-spec',
    ['Part 2', 'combined'],
  );
  assert.throws(
    () => datasetId({ kind: 'combined', parts: [] }),
    (e) => isUserError(e) && e.code === 'bad-spec',
  );
});

test('parseDatasetArg: A+B joins parts; folder parts take the fixed size of the others', () => {
  const spec = parseDatasetArg('tinyimagenet:/data/tiny-imagenet-200+folder:/data/person-gorilla', 32, 3);
  assert.deepEqual(spec, {
    kind: 'combined',
    parts: [
      { kind: 'tinyimagenet', path: '/data/tiny-imagenet-200' },
      { kind: 'folder', path: '/data/person-gorilla', size: 64, seed: 3 },
    ],
  });
  // Folder first: still the Tiny ImageNet size.
  const first = parseDatasetArg('folder:/a+imagenet200:/t', 32, 1);
  assert.equal(first.kind === 'combined' && first.parts[0].kind === 'folder' && first.parts[0].size, 64);
  // CIFAR: 32, whatever --size says.
  const c = parseDatasetArg('cifar10:/c+folder:/f+cifar100:/d', 64, 1);
  assert.ok(c.kind === 'combined');
  assert.deepEqual(
    c.parts.map((p) => p.kind),
    ['cifar10', 'folder', 'cifar100'],
  );
  assert.equal(c.parts[1].kind === 'folder' && c.parts[1].size, 32);
  // No fixed-size part: --size.
  const e = parseDatasetArg('shapes+folder:/f', 64, 1);
  assert.ok(e.kind === 'combined');
  assert.deepEqual(e.parts[0], { kind: 'synthetic', name: 'shapes', size: 64, seed: 1 });
  assert.equal(e.parts[1].kind === 'folder' && e.parts[1].size, 64);
  assert.equal(parseDatasetArg('folder:/f+folder:/g', 48, 1).kind, 'combined');
  // A '+' not followed by a dataset name is part of the path.
  assert.deepEqual(parseDatasetArg('folder:/data/a+b', 32, 1), {
    kind: 'folder',
    path: '/data/a+b',
    size: 32,
    seed: 1,
  });
  const p = parseDatasetArg('tinyimagenet:/x+y/tiny+folder:/c++/folder+more', 32, 1);
  assert.ok(p.kind === 'combined');
  assert.deepEqual(
    p.parts.map((x) => ('path' in x ? x.path : x.kind)),
    ['/x+y/tiny', '/c++/folder+more'],
  );
  // A bad part is a UserError.
  assert.throws(
    () => parseDatasetArg('tinyimagenet:/t+folder:', 32, 1),
    (err) => isUserError(err) && err.code === 'bad-dataset',
  );
  // The single forms are unchanged.
  assert.deepEqual(parseDatasetArg('tinyimagenet:/t', 32, 1), { kind: 'tinyimagenet', path: '/t' });
  assert.deepEqual(parseDatasetArg('folder:/f', 32, 1), { kind: 'folder', path: '/f', size: 32, seed: 1 });
});

test('combineSpecs: the one rule for the CLI and the app, folders take the first fixed size', () => {
  const folder = (p: string, size = 48) => ({ kind: 'folder' as const, path: p, size });
  const tiny = { kind: 'tinyimagenet' as const, path: '/t' };
  const cifar = { kind: 'cifar10' as const, path: '/c' };
  assert.deepEqual(combineSpecs(tiny, [folder('/f')], 32), {
    kind: 'combined',
    parts: [tiny, folder('/f', 64)],
  });
  // The main folder too, whichever part fixes the size; the first fixed one wins.
  assert.deepEqual(combineSpecs(folder('/a'), [cifar, folder('/b'), tiny], 64).parts, [
    folder('/a', 32),
    cifar,
    folder('/b', 32),
    tiny,
  ]);
  // Only folders: the size given.
  assert.deepEqual(combineSpecs(folder('/a'), [folder('/b', 16)], 64).parts, [
    folder('/a', 64),
    folder('/b', 64),
  ]);
});

// ---------------------------------------------------------------------------------------
// Synthetic

test('synthetic: deterministic from the seed, balanced, both names and sizes', () => {
  for (const name of ['shapes', 'textures'] as const) {
    for (const size of [32, 64] as const) {
      const a = generateSynthetic(name, size, { seed: 3, trainPerClass: 6, testPerClass: 2 });
      const b = generateSynthetic(name, size, { seed: 3, trainPerClass: 6, testPerClass: 2 });
      const c = generateSynthetic(name, size, { seed: 4, trainPerClass: 6, testPerClass: 2 });
      assert.equal(a.info.classNames.length >= 10, true);
      assert.equal(a.train.count, 6 * a.info.classNames.length);
      assert.equal(a.test.count, 2 * a.info.classNames.length);
      assert.equal(a.train.images.length, a.train.count * size * size * 3);
      assert.deepEqual(a.train.images, b.train.images);
      assert.deepEqual(a.test.images, b.test.images);
      assert.notDeepEqual(a.train.images, c.train.images);
      const counts = new Array(a.info.classNames.length).fill(0);
      for (const l of a.train.labels) counts[l]++;
      assert.ok(counts.every((v) => v === 6));
      // Not blank: a reasonable spread of values.
      let sum = 0;
      let sq = 0;
      for (const v of a.train.images) {
        sum += v;
        sq += v * v;
      }
      const mean = sum / a.train.images.length;
      assert.ok(Math.sqrt(sq / a.train.images.length - mean * mean) > 20);
      // Train and test images differ.
      assert.notDeepEqual(
        a.train.images.subarray(0, size * size * 3),
        a.test.images.subarray(0, size * size * 3),
      );
    }
  }
  // The first images do not depend on how many are asked for.
  const small = generateSynthetic('shapes', 32, { seed: 9, trainPerClass: 2, testPerClass: 1 });
  const big = generateSynthetic('shapes', 32, { seed: 9, trainPerClass: 4, testPerClass: 1 });
  assert.deepEqual(small.train.images, big.train.images.subarray(0, small.train.images.length));
});

test('synthetic: loadDataset, ids, embedded list, confusable pair', async () => {
  const ds = await loadDataset(
    { kind: 'synthetic', name: 'shapes', size: 32, trainPerClass: 3, testPerClass: 1 },
    { cacheDir: dir('cache') },
  );
  assert.equal(
    ds.info.id,
    datasetId({ kind: 'synthetic', name: 'shapes', size: 32, trainPerClass: 3, testPerClass: 1 }),
  );
  assert.equal(ds.info.source, 'embedded (seed 1)');
  const [a, b] = confusablePair('shapes');
  assert.deepEqual([ds.info.classNames[a], ds.info.classNames[b]], ['star-5', 'star-6']);
  assert.equal(confusablePair('textures').length, 2);
  const specs = embeddedDatasets();
  assert.ok(specs.length >= 2);
  assert.ok(specs.every((s) => s.kind === 'synthetic'));
  assert.equal(new Set(specs.map(datasetId)).size, specs.length);
  await assert.rejects(
    loadDataset({ kind: 'synthetic', name: 'shapes', size: 48 as 32 }, { cacheDir: dir('cache') }),
    (e) => isUserError(e) && e.code === 'bad-spec',
  );
});

test('Rng: deterministic, ranges, shuffle', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b.next()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => new Rng(43).next()),
  );
  const r = new Rng(1);
  const ints = Array.from({ length: 2000 }, () => r.int(7));
  assert.ok(ints.every((v) => Number.isInteger(v) && v >= 0 && v < 7));
  assert.equal(new Set(ints).size, 7);
  const ns = Array.from({ length: 4000 }, () => r.normal());
  const mean = ns.reduce((s, v) => s + v, 0) / ns.length;
  const sd = Math.sqrt(ns.reduce((s, v) => s + (v - mean) ** 2, 0) / ns.length);
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(sd - 1) < 0.1);
  const arr = Array.from({ length: 50 }, (_, i) => i);
  new Rng(5).shuffle(arr);
  assert.deepEqual(
    [...arr].sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.notDeepEqual(
    arr,
    Array.from({ length: 50 }, (_, i) => i),
  );
});
