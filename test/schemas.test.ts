// One schema per boundary shape, met where a user meets it: a call through the web shell is
// refused once, naming every broken field and its rule, and a damaged entry of a file read back
// (the imported-datasets registry) is left out instead of breaking the page, and never lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWebShell, TOKEN_HEADER, type WebShell } from '../src/web/server.ts';
import type { CoreApi } from '../src/core/node/api.ts';
import { makeFolder } from './helpers/fixtures.ts';
import { quickApi, until } from './helpers/jobs.ts';

let shell: WebShell;
let api: CoreApi;
let home: string;

before(async () => {
  ({ home, api } = await quickApi('dec-schemas-'));
  const rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dec-schemas-page-'));
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>stub</title>');
  shell = await startWebShell({ port: 0, rendererDir, api });
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
    body: (await r.json()) as { ok: boolean; value?: unknown; error?: { message: string } },
  };
};

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
  const ids = (listed.body.value as { id: string }[]).map((d) => d.id);
  assert.ok(ids.includes(good.info.id), ids.join(', '));

  // An import adds its entry and keeps the others as written, the damaged one included.
  const colours = await makeFolder(fs.mkdtempSync(path.join(os.tmpdir(), 'dec-schemas-colours-')), [
    ['red', [220, 20, 20]],
    ['blue', [20, 20, 220]],
  ]);
  const job = await call('importDataset', { kind: 'folder', path: colours, size: 32 });
  assert.equal(job.status, 200, JSON.stringify(job.body.error));
  const done = await until(api, (job.body.value as { id: string }).id);
  assert.equal(done.status, 'finished', done.error ?? '');
  const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown[];
  assert.equal(kept.length, 3);
  assert.deepEqual(kept.slice(0, 2), [damaged, good]);

  // A registry that is not JSON at all is never overwritten: the import says which file and why.
  fs.writeFileSync(file, '[{"spec": ');
  const again = await call('importDataset', { kind: 'folder', path: colours, size: 64 });
  assert.equal(again.status, 200, JSON.stringify(again.body.error));
  const failed = await until(api, (again.body.value as { id: string }).id);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error ?? '', /datasets\.json is not valid JSON/);
  assert.equal(fs.readFileSync(file, 'utf8'), '[{"spec": ');
});
