// The bounds every shell shares (core/common/bounds.ts) and the one schema of each boundary
// shape, met through the web shell as the app meets them: settings out of range are refused
// and not stored, a training on a dataset nothing here knows is refused by the call (no job,
// no run), a dataset load is held to one share of memory as a whole, a call is refused once
// naming every broken field and its rule, and a damaged entry of a file read back (the
// imported-datasets registry) is left out instead of breaking the page, and never lost.
import { test, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TOKEN_HEADER, type WebShell } from '../src/web/server.ts';
import type { CoreApi } from '../src/core/node/api.ts';
import { loadDataset } from '../src/core/node/data/index.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { sleep } from '../src/core/node/energy/meter.ts';
import { makeFolder } from './helpers/fixtures.ts';
import { quickApi, until } from './helpers/jobs.ts';
import { tempDir } from './helpers/temp.ts';
import { stubShell } from './helpers/stub-shell.ts';

let shell: WebShell;
let api: CoreApi;
let home: string;

before(async () => {
  ({ home, api } = await quickApi('bounds'));
  shell = await stubShell(api);
});

after(async () => {
  await shell.close();
  await api.close();
});

const call = async (method: string, ...args: unknown[]) => {
  const r = await fetch(`http://127.0.0.1:${shell.port}/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: shell.token },
    body: JSON.stringify({ args }),
  });
  return {
    status: r.status,
    body: (await r.json()) as { ok: boolean; value?: Record<string, unknown>; error?: { message: string } },
  };
};

test('settings out of their bounds are refused and the stored value kept: a PUE of 1e308, an idle time past a timer, more workers than the machine takes', async () => {
  const before = (await call('getSettings')).body.value!;
  const cases: [string, unknown, RegExp][] = [
    ['pue', 1e308, /pue: must be a number from 1 to 5/],
    ['intensity', 1e6, /intensity: must be a number from 0 to 10/],
    ['idleSeconds', 2_147_484, /idleSeconds: must be a number from 0 to 3,?600/],
    [
      'workers',
      4 * os.availableParallelism() + 1,
      /workers is not possible here: workers must be a whole number from 0 to/,
    ],
  ];
  for (const [key, value, message] of cases) {
    const r = await call('setSetting', key, value);
    assert.equal(r.body.ok, false, `${key} = ${String(value)} was accepted`);
    assert.ok(r.status >= 400 && r.status < 500, `${key}: ${r.status}`);
    assert.match(`${r.body.error?.message}`, message);
  }
  const after = (await call('getSettings')).body.value!;
  for (const [key] of cases) assert.equal(after[key], before[key], key);
  // In range, they are stored.
  assert.equal((await call('setSetting', 'pue', 1.2)).body.value?.pue, 1.2);
  assert.equal((await call('setSetting', 'idleSeconds', 3600)).body.value?.idleSeconds, 3600);
  assert.equal((await call('setSetting', 'idleSeconds', 0)).body.value?.idleSeconds, 0);
});

test('a training on a dataset id nothing here knows is refused by the call: no job is started, no failed run left on Home', async () => {
  const r = await call('startTraining', {
    dataset: 'synthetic-shapez-32',
    depth: 8,
    epochs: 1,
    seed: 1,
    augment: false,
  });
  assert.equal(r.body.ok, false);
  assert.match(`${r.body.error?.message}`, /No dataset with id "synthetic-shapez-32"/);
  assert.deepEqual((await call('listJobs')).body.value, []);
  assert.deepEqual((await call('listRuns')).body.value, []);
  const demo = await call('runDemo', { dataset: 'no-such-dataset', epochs: 1 });
  assert.equal(demo.body.ok, false);
  assert.deepEqual((await call('listJobs')).body.value, []);
});

test('the memory guard counts the whole load (both splits), not each image set alone', async (t) => {
  // shapes at 32x32: 5000 training images (14.6 MiB) and 1000 test images (2.9 MiB). With 40 MiB
  // installed, 40% is 16 MiB: each split fits alone, the two together do not.
  t.after(() => mock.restoreAll());
  mock.method(os, 'totalmem', () => 40 * 2 ** 20);
  const cacheDir = tempDir('bounds-cache');
  await assert.rejects(loadDataset({ kind: 'synthetic', name: 'shapes', size: 32 }, { cacheDir }), (e) => {
    assert.ok(isUserError(e), String(e));
    assert.equal(e.code, 'dataset-too-large');
    assert.match(e.message, /on top of the 14\.6 MiB this dataset's other images already take/);
    return true;
  });
});

test('a wait longer than a timer holds (about 24.8 days) is waited in steps, never cut to 1 ms', async (t) => {
  t.after(() => mock.timers.reset());
  mock.timers.enable({ apis: ['setTimeout'] });
  let done = false;
  const waited = sleep(2 ** 31 + 5000).then(() => (done = true));
  const settle = () => new Promise((r) => setImmediate(r));
  mock.timers.tick(1);
  await settle();
  assert.equal(done, false, 'a single setTimeout would have fired at once');
  mock.timers.tick(2 ** 31 - 2);
  await settle();
  mock.timers.tick(4999);
  await settle();
  assert.equal(done, false);
  mock.timers.tick(2);
  await waited;
  assert.equal(done, true);
});

test('a call with several bad fields is refused once, naming each field, its rule and what was given', async () => {
  const r = await call('startTraining', {
    dataset: 'synthetic-shapes-32',
    depth: 9,
    epochs: 0,
    seed: -1,
    augment: 'yes',
  });
  assert.equal(r.status, 400);
  const message = r.body.error?.message ?? '';
  assert.match(message, /^startTraining: /);
  assert.match(message, /depth: must be 6n\+2 from 8 to 200 .*\(got 9\)/);
  assert.match(message, /epochs: must be a whole number from 1 to 1000 \(got 0\)/);
  assert.match(message, /seed: must be a whole number from 0 to .* \(got -1\)/);
  assert.deepEqual((await call('listJobs')).body.value, []);

  // A field no schema knows is named too, and a rule between two fields is reported on one.
  const wizard = await call('startWizard', {
    modelDir: '/m',
    faulty: 2,
    victim: 2,
    options: [1],
    pairDepth: 8,
    pairEpochs: 1,
    perClass: 5,
    seed: 1,
  });
  assert.equal(wizard.status, 400);
  assert.match(
    wizard.body.error?.message ?? '',
    /startWizard: victim: must differ from the faulty class \(got 2\)/,
  );
  const extra = await call('runDemo', { epochs: 1, epoch: 2 });
  assert.match(extra.body.error?.message ?? '', /runDemo: epoch: is an unknown field/);
});

test('a damaged entry of the imported-datasets registry is left out of the list, and an import keeps every entry it cannot read', async () => {
  const file = path.join(home, 'datasets.json');
  const good = {
    spec: { kind: 'folder', path: '/data/colours', size: 8, seed: 1 },
    info: {
      id: 'folder-colours-8-s1-test',
      kind: 'folder',
      name: 'colours',
      imageSize: 8,
      classNames: ['red', 'blue'],
      trainCount: 6,
      testCount: 2,
      source: '/data/colours',
    },
  };
  const damaged = { spec: { kind: 'folder', path: '/data/other' }, info: null };
  fs.writeFileSync(file, JSON.stringify([damaged, good]));
  const listed = await call('listDatasets');
  assert.equal(listed.status, 200, JSON.stringify(listed.body.error));
  const ids = (listed.body.value as unknown as { id: string }[]).map((d) => d.id);
  assert.ok(ids.includes(good.info.id), ids.join(', '));

  // An import adds its entry and keeps the others as written, the damaged one included.
  const colours = await makeFolder(tempDir('schemas-colours'), [
    ['red', [220, 20, 20]],
    ['blue', [20, 20, 220]],
  ]);
  const job = await call('importDataset', { kind: 'folder', path: colours, size: 32 });
  assert.equal(job.status, 200, JSON.stringify(job.body.error));
  const done = await until(api, String(job.body.value?.id));
  assert.equal(done.status, 'finished', done.error ?? '');
  const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown[];
  assert.equal(kept.length, 3);
  assert.deepEqual(kept.slice(0, 2), [damaged, good]);

  // A registry that is not JSON at all is never overwritten: the import says which file and why.
  fs.writeFileSync(file, '[{"spec": ');
  const again = await call('importDataset', { kind: 'folder', path: colours, size: 64 });
  assert.equal(again.status, 200, JSON.stringify(again.body.error));
  const failed = await until(api, String(again.body.value?.id));
  assert.equal(failed.status, 'failed');
  assert.match(failed.error ?? '', /datasets\.json is not valid JSON/);
  assert.equal(fs.readFileSync(file, 'utf8'), '[{"spec": ');
});
