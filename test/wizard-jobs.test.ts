// The fix-it wizard behind the app, through the core API: a tiny faulty demo model (and its
// clean twin), its confusion and most-confused pair, the four options as a job, one option
// saved as a named repaired classifier, listed, and evaluated to the accuracy the wizard
// measured for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { checkCall } from '../src/core/common/api.ts';
import { FAULTY_DEMO_PAIR } from '../src/core/node/wizard/index.ts';
import { finished, quickApi, until } from './helpers/jobs.ts';

test('the wizard calls are checked at the boundary', () => {
  const ok = {
    modelDir: '/m',
    faulty: 6,
    victim: 5,
    options: [1, 2, 3, 4],
    betterModel: null,
    betterEpochs: 3,
    pairDepth: 8,
    pairEpochs: 1,
    perClass: 5,
    seed: 1,
  };
  assert.equal(checkCall('startWizard', [ok]), null);
  assert.match(checkCall('startWizard', [{ ...ok, victim: 6 }]) ?? '', /differ/);
  assert.match(checkCall('startWizard', [{ ...ok, options: [5] }]) ?? '', /options/);
  assert.match(checkCall('startWizard', [{ ...ok, options: [] }]) ?? '', /options/);
  assert.match(checkCall('startWizard', [{ ...ok, pairDepth: 9 }]) ?? '', /6n\+2/);
  assert.match(checkCall('startWizard', [{ ...ok, hack: 1 }]) ?? '', /unknown field/);
  assert.equal(checkCall('analyzeFault', ['/m', null]), null);
  assert.match(checkCall('analyzeFault', ['/m']) ?? '', /2 argument/);
  assert.equal(checkCall('startFaultyDemo', []), null);
  assert.match(checkCall('startFaultyDemo', [{ fraction: 2 }]) ?? '', /fraction/);
  assert.equal(checkCall('saveRepair', [{ jobId: 'job-1', option: 3, name: 'fixed.v1' }]), null);
  assert.match(checkCall('saveRepair', [{ jobId: 'job-1', option: 3, name: '../x' }]) ?? '', /name/);
  assert.match(checkCall('saveRepair', [{ jobId: 'job-1', option: 0, name: 'x' }]) ?? '', /option/);
});

test('faulty demo model, its fault, the four options as a job, a saved repair evaluated', async () => {
  const { home, api } = await quickApi('wizard-jobs');
  try {
    const fj = await api.startFaultyDemo({ depth: 8, epochs: 1, perClass: 16 });
    assert.equal(fj.kind, 'faulty');
    const f = await until(api, fj);
    finished(f);
    const made = f.result!;
    const { victim, faulty } = FAULTY_DEMO_PAIR;
    assert.ok(made.modelDir && made.betterDir && made.fault);
    assert.equal(made.fault.victim, victim);
    assert.equal(made.fault.faulty, faulty);
    assert.equal(made.fault.relabelled, Math.round(16 * 0.6));
    assert.doesNotMatch(made.datasetId!, /fault/, 'judged on the true labels');
    const models = await api.listModels();
    assert.ok(models.some((m) => m.dir === made.modelDir) && models.some((m) => m.dir === made.betterDir));

    // Find the fault: the model's dataset id names the corruption, the test uses true labels.
    const view = await api.analyzeFault(made.modelDir, null);
    assert.equal(view.kind, 'model');
    assert.equal(view.datasetId, made.datasetId);
    assert.equal(view.testImages, 100);
    assert.equal(
      view.matrix.flat().reduce((a, b) => a + b, 0),
      100,
    );
    const { faulty: sf, victim: sv, rate } = view.suggested;
    assert.notEqual(sf, sv);
    assert.equal(rate, view.matrix[sv]![sf]! / view.matrix[sv]!.reduce((a, b) => a + b, 0));
    // The confusion the demo reports is the planted pair's cell of the same confusion matrix.
    const victimRow = view.matrix[victim]!;
    assert.equal(made.fault.confusion, victimRow[faulty]! / victimRow.reduce((a, b) => a + b, 0));
    await assert.rejects(api.analyzeFault(path.join(home, 'nowhere'), null), /model/i);

    const wj = await api.startWizard({
      modelDir: made.modelDir,
      faulty,
      victim,
      options: [1, 2, 3, 4],
      betterModel: made.betterDir,
      pairDepth: 8,
      pairEpochs: 1,
      perClass: 5,
      seed: 1,
    });
    assert.equal(wj.kind, 'wizard');
    await assert.rejects(api.saveRepair({ jobId: wj.id, option: 3, name: 'early' }), /did not finish/);
    const w = await until(api, wj);
    finished(w);
    const r = w.result!.wizard!;
    assert.deepEqual(
      r.options.map((o) => o.option),
      [1, 2, 3, 4],
    );
    assert.equal(r.faulty.index, faulty);
    assert.equal(r.victim.name, view.classNames[victim]);
    assert.ok(r.recommendation && [1, 2, 3, 4].includes(r.recommendation.option));
    assert.equal(r.options.find((o) => o.option === 3)!.confusion, 0, 'the removed class is never predicted');
    for (const o of r.options) {
      assert.ok(o.co2eKg >= 0 && o.seconds >= 0);
      assert.ok(o.parts.run.seconds > 0);
    }
    assert.equal(r.options.find((o) => o.option === 3)!.parts.train.seconds, 0, 'option 3 trains nothing');
    assert.ok(r.options.find((o) => o.option === 2)!.parts.train.seconds > 0, 'option 2 trains');

    // Keep the result: saved, listed with its history, evaluated to the measured accuracy.
    const saved = await api.saveRepair({ jobId: wj.id, option: 3, name: 'shapes-no-circle' });
    assert.equal(saved.name, 'shapes-no-circle');
    assert.equal(saved.option, 3);
    assert.equal(saved.faulty?.index, faulty);
    assert.equal(path.dirname(saved.dir), path.join(home, 'repaired'));
    await assert.rejects(
      api.saveRepair({ jobId: wj.id, option: 3, name: 'shapes-no-circle' }),
      /exists already/,
    );
    await assert.rejects(api.saveRepair({ jobId: 'job-gone', option: 3, name: 'x' }), /no longer available/);
    const list = await api.listRepaired();
    assert.deepEqual(
      list.map((x) => x.name),
      ['shapes-no-circle'],
    );
    const again = await api.analyzeFault(saved.dir, null);
    assert.equal(again.kind, 'repaired');
    assert.ok(Math.abs(again.top1 - r.options.find((o) => o.option === 3)!.top1) < 1e-9);
    assert.ok(
      again.matrix.every((row) => row[faulty] === 0),
      'the repaired classifier never predicts the removed class',
    );

    // A class the model does not have fails the job with a message.
    const bad = await until(
      api,
      (
        await api.startWizard({
          ...{ modelDir: made.modelDir, options: [3] },
          faulty: 42,
          victim: 0,
          pairDepth: 8,
          pairEpochs: 1,
          perClass: 5,
          seed: 1,
        })
      ).id,
    );
    assert.equal(bad.status, 'failed');
    assert.match(bad.error ?? '', /not a class/);
  } finally {
    await api.close();
  }
});
