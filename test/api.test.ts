import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCall } from '../src/core/common/api.ts';
import { createCoreApi } from '../src/core/node/api.ts';

test('getSystemInfo returns the machine and a real backend report', async () => {
  const info = await createCoreApi().getSystemInfo();
  assert.equal(info.app, 'Decomposer');
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.ok(info.cpus >= 1);
  assert.ok(info.memoryBytes > 0);
  const { backend } = info;
  assert.ok(['tensorflow', 'wasm', 'cpu'].includes(backend.active));
  assert.deepEqual(
    backend.candidates.map((c) => c.name),
    ['tensorflow', 'wasm', 'cpu'],
  );
  const active = backend.candidates.find((c) => c.name === backend.active);
  assert.equal(active?.ok, true);
  // Every backend that is not active says why.
  for (const c of backend.candidates)
    if (c.name !== backend.active) assert.ok(c.reason, `${c.name} has no reason`);
});

test('listDatasets describes the embedded datasets without generating them', async () => {
  const list = await createCoreApi().listDatasets();
  assert.ok(list.length >= 2);
  for (const d of list) {
    assert.equal(d.kind, 'synthetic');
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
