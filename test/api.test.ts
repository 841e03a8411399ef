import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_IMPORT_EXTRA, checkCall } from '../src/core/common/api.ts';
import { createCoreApi } from '../src/core/node/api.ts';

test('getSystemInfo returns the machine and a real backend report', async () => {
  const info = await createCoreApi().getSystemInfo();
  assert.equal(info.app, 'Decomposer');
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.ok(info.cpus >= 1);
  assert.ok(info.memoryBytes > 0);
  const { backend } = info;
  // onnxruntime trains wherever onnxruntime-node loads (it is a dependency).
  assert.equal(backend.active, 'onnxruntime');
  assert.deepEqual(
    backend.candidates.map((c) => c.name),
    ['onnxruntime', 'tensorflow', 'wasm', 'cpu'],
  );
  const active = backend.candidates.find((c) => c.name === backend.active);
  assert.equal(active?.ok, true);
  // Every backend that is not active says why.
  for (const c of backend.candidates)
    if (c.name !== backend.active) assert.ok(c.reason, `${c.name} has no reason`);
});

test('listDatasets describes the embedded datasets without generating them', async () => {
  const list = await createCoreApi().listDatasets();
  const embedded = list.filter((d) => d.kind === 'synthetic');
  assert.ok(embedded.length >= 2);
  // Anything else listed was found on this machine (Fashion-MNIST where Debian's package is).
  for (const d of list.filter((x) => x.kind !== 'synthetic')) assert.equal(d.found, true, d.id);
  for (const d of embedded) {
    assert.ok(d.classNames.length > 1);
    assert.ok(d.trainCount > 0 && d.testCount > 0);
  }
  assert.ok(list.some((d) => d.name.startsWith('shapes')));
  assert.ok(list.some((d) => d.name.startsWith('textures')));
});

test('onProgress delivers events until unsubscribed', () => {
  const api = createCoreApi();
  const seen: string[] = [];
  const off = api.onProgress((e) => seen.push(e.progress.stage));
  api.emitProgress({ jobId: 'j1', progress: { stage: 'one', fraction: 0.5 } });
  off();
  api.emitProgress({ jobId: 'j1', progress: { stage: 'two', fraction: 1 } });
  assert.deepEqual(seen, ['one']);
});

test('checkCall rejects unknown methods and wrong arguments', () => {
  assert.equal(checkCall('getSystemInfo', []), null);
  assert.match(checkCall('deleteEverything', []) ?? '', /unknown API method/);
  assert.match(checkCall('constructor', []) ?? '', /unknown API method/);
  assert.match(checkCall('getSystemInfo', 'x') ?? '', /must be an array/);
  assert.match(checkCall('listDatasets', [1]) ?? '', /takes 0 argument/);
});

test('checkCall validates the arguments of every method that takes any', () => {
  const train = { dataset: 'synthetic-shapes-32', depth: 8, epochs: 1, seed: 1, augment: true };
  assert.equal(checkCall('startTraining', [train]), null);
  assert.equal(checkCall('startTraining', [{ ...train, perClass: 20, batchSize: 16 }]), null);
  assert.match(checkCall('startTraining', [{ ...train, depth: 9 }]) ?? '', /6n\+2/);
  assert.match(checkCall('startTraining', [{ ...train, extra: 1 }]) ?? '', /unknown field/);
  assert.match(checkCall('startTraining', [null]) ?? '', /object/);
  assert.equal(checkCall('runDemo', []), null);
  assert.equal(checkCall('runDemo', [{ epochs: 2 }]), null);
  assert.equal(checkCall('runDemo', [{ dataset: 'fashion-mnist' }]), null);
  assert.match(checkCall('runDemo', [{ dataset: 7 }]) ?? '', /dataset id/);
  assert.match(checkCall('getExperiment', [0]) ?? '', /positive whole number/);
  assert.equal(checkCall('getExperiment', [3]), null);
  assert.match(checkCall('runDemo', [{ epochs: 2 }, 1]) ?? '', /0 to 1 argument/);
  assert.equal(checkCall('getRun', [3]), null);
  assert.match(checkCall('getRun', ['3']) ?? '', /run id/);
  assert.equal(checkCall('resumeTraining', [3]), null);
  assert.match(checkCall('resumeTraining', [1.5]) ?? '', /run id/);
  assert.match(checkCall('resumeTraining', [0]) ?? '', /run id/);
  assert.match(checkCall('resumeTraining', []) ?? '', /1 argument/);
  assert.match(checkCall('cancelJob', ['a/b']) ?? '', /job id/);
  assert.equal(checkCall('setSetting', ['pue', 1.5]), null);
  assert.equal(checkCall('setSetting', ['workers', null]), null);
  assert.match(checkCall('setSetting', ['dataHome', '/x']) ?? '', /the setting: must be one of pue, /);
  assert.match(checkCall('setSetting', ['backend', 'gpu']) ?? '', /backend/);
  assert.equal(checkCall('importDataset', [{ kind: 'cifar10', path: '/data/c.tar.gz' }]), null);
  assert.match(checkCall('importDataset', [{ kind: 'zip', path: '/x' }]) ?? '', /kind/);
  assert.match(checkCall('downloadDataset', ['imagenet']) ?? '', /cifar10/);
  assert.match(checkCall('previewDataset', ['x', 0]) ?? '', /per class/);
  assert.match(checkCall('pickPath', ['dir']) ?? '', /file or a folder/);
});

test('importDataset: extra sources are a short list of kind and path, never nested', () => {
  const tiny = { kind: 'tinyimagenet', path: '/data/tiny-imagenet-200' };
  const folder = { kind: 'folder', path: '/data/person-gorilla' };
  const check = (extra: unknown) => checkCall('importDataset', [{ ...tiny, extra }]);
  assert.equal(check([folder]), null);
  assert.equal(check([]), null);
  assert.equal(check([folder, { kind: 'cifar10', path: '/c' }, { kind: 'tinyimagenet', path: '/t' }]), null);
  assert.equal(check(Array.from({ length: MAX_IMPORT_EXTRA }, () => folder)), null);
  assert.equal(checkCall('importDataset', [{ kind: 'folder', path: '/f', size: 64, extra: [folder] }]), null);
  assert.match(check(Array.from({ length: MAX_IMPORT_EXTRA + 1 }, () => folder)) ?? '', /at most 8/);
  assert.match(check(folder) ?? '', /list/);
  assert.match(check('folder:/x') ?? '', /list/);
  assert.match(check([folder, null]) ?? '', /extra\[1\]: must be an object/);
  assert.match(check([{ kind: 'zip', path: '/x' }]) ?? '', /extra\[0\]\.kind: must be cifar10/);
  assert.match(check([{ kind: 'combined', path: '/x' }]) ?? '', /extra\[0\]\.kind: must be/);
  assert.match(check([{ kind: 'folder' }]) ?? '', /extra\[0\]\.path: is missing/);
  assert.match(check([{ kind: 'folder', path: '' }]) ?? '', /path/);
  assert.match(check([{ kind: 'folder', path: 7 }]) ?? '', /path/);
  // No nesting, and no size of its own (folders take the combined size).
  assert.match(check([{ ...folder, extra: [folder] }]) ?? '', /extra\[0\]\.extra: is an unknown field/);
  assert.match(
    check([{ kind: 'combined', parts: [tiny, folder] }]) ?? '',
    /extra\[0\]\.parts: is an unknown field/,
  );
  assert.match(check([{ ...folder, size: 64 }]) ?? '', /extra\[0\]\.size: is an unknown field/);
});

test('the core refuses bad arguments even when called directly', async () => {
  const api = createCoreApi({ home: '/nonexistent-decomposer-home' });
  await assert.rejects(api.getRun(-1), { code: 'bad-request' });
  await assert.rejects(api.cancelJob('../x'), { code: 'bad-request' });
});
