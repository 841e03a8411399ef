// Importing a combined dataset through the core API, as the Datasets page does: Tiny ImageNet
// plus a folder of two more classes (the paper's 202-class setting, in miniature) is listed as
// one dataset with N+2 classes of 64x64 images, and a bad part fails the job with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createCoreApi } from '../src/core/node/api.ts';
import { makeFolder, makeTiny } from './helpers/fixtures.ts';
import { finished, until } from './helpers/jobs.ts';
import { tempDir } from './helpers/temp.ts';

const tmp = tempDir('import');

/** A Tiny ImageNet tree and a person/gorilla folder, under tmp/<name>. */
async function sources(name: string): Promise<{ tiny: string; added: string }> {
  const parent = path.join(tmp, name);
  const added = path.join(parent, 'person-gorilla');
  mkdirSync(added, { recursive: true });
  await makeFolder(added, [
    ['person', [240, 200, 160]],
    ['gorilla', [40, 40, 40]],
  ]);
  return { tiny: await makeTiny(parent), added };
}

test('importing Tiny ImageNet + a folder through the API lists one dataset of N+2 classes, 64x64', async () => {
  const { tiny, added } = await sources('ok');
  const home = path.join(tmp, 'home');
  const api = createCoreApi({ home });
  try {
    const before = await api.listDatasets();
    // The folder part's size is the Tiny ImageNet one, whatever `size` says; a relative
    // path is resolved like the main one.
    const job = await api.importDataset({
      kind: 'tinyimagenet',
      path: tiny,
      size: 32,
      extra: [{ kind: 'folder', path: path.relative(process.cwd(), added) }],
    });
    assert.equal(job.kind, 'import');
    assert.match(job.label, /tinyimagenet from .*tiny-imagenet-200 \+ folder from .*person-gorilla/);
    assert.match(job.label, /as one dataset/);
    const done = await until(api, job);
    finished(done);
    const id = done.result?.datasetId;
    assert.ok(id && id.startsWith('combined-'), String(id));

    const list = await api.listDatasets();
    assert.equal(list.length, before.length + 1);
    const ds = list.find((d) => d.id === id)!;
    assert.equal(ds.kind, 'combined');
    assert.equal(ds.name, 'Tiny ImageNet + 2 folder classes');
    assert.equal(ds.imageSize, 64);
    assert.deepEqual(ds.classNames, ['Egyptian cat', 'goldfish', 'gorilla', 'person']);
    assert.ok(ds.trainCount > 6 && ds.testCount >= 2, `${ds.trainCount}/${ds.testCount}`);
    assert.match(ds.source, /tinyimagenet .*; folder .*person-gorilla/);

    // It loads by id like any other dataset: a preview has every class.
    const preview = await api.previewDataset(id, 1);
    assert.equal(preview.classNames.length, 4);
    assert.deepEqual(
      preview.images.map((i) => i.label),
      [0, 1, 2, 3],
    );

    // Without extra, the single import is unchanged.
    const single = await until(api, await api.importDataset({ kind: 'tinyimagenet', path: tiny }));
    finished(single);
    const one = (await api.listDatasets()).find((d) => d.id === single.result?.datasetId)!;
    assert.equal(one.kind, 'tinyimagenet');
    assert.equal(one.classNames.length, 2);
  } finally {
    await api.close();
  }
});

test('a combined import with a missing part or mismatched sizes fails with the reason', async () => {
  const { tiny, added } = await sources('bad');
  const home = path.join(tmp, 'home-bad');
  const api = createCoreApi({ home });
  try {
    const nowhere = path.join(tmp, 'nowhere');
    const missing = await until(
      api,
      (
        await api.importDataset({
          kind: 'tinyimagenet',
          path: tiny,
          extra: [{ kind: 'folder', path: nowhere }],
        })
      ).id,
    );
    assert.equal(missing.status, 'failed');
    assert.match(missing.error ?? '', /Part 2 \(folder/);
    assert.ok(missing.error!.includes(nowhere), missing.error!);

    // Tiny ImageNet (64x64) and CIFAR (32x32) cannot be one dataset: one clear message.
    const mixed = await until(
      api,
      (
        await api.importDataset({
          kind: 'tinyimagenet',
          path: tiny,
          extra: [{ kind: 'cifar10', path: added }],
        })
      ).id,
    );
    assert.equal(mixed.status, 'failed');
    assert.match(mixed.error ?? '', /same image size/);
    assert.match(mixed.error ?? '', /is 64x64.*is 32x32/);
    assert.equal((await api.listDatasets()).filter((d) => d.kind === 'combined').length, 0);

    // A bad shape never starts a job.
    await assert.rejects(
      api.importDataset({
        kind: 'tinyimagenet',
        path: tiny,
        extra: [{ kind: 'imagenet', path: added }],
      } as never),
      { code: 'bad-request' },
    );
  } finally {
    await api.close();
  }
});
