// Decomposition (Table 1) and one user-built reuse / replace scenario as UI jobs, through the
// core API: a tiny model trained, decomposed with every approach (module sets saved, the run
// recorded as 'decompose'), then composed with its baseline trained from scratch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCall } from '../src/core/common/api.ts';
import { finished, quickApi, until } from './helpers/jobs.ts';

test('the new calls are checked at the boundary', () => {
  const ok = { modelDir: '/m', approaches: ['CI+TI+MC'], delta: 0.5, perClass: 5, seed: 1, point: 'relu' };
  assert.equal(checkCall('startDecomposition', [ok]), null);
  assert.match(checkCall('startDecomposition', [{ ...ok, approaches: ['X'] }]) ?? '', /approaches/);
  assert.match(checkCall('startDecomposition', [{ ...ok, point: 'x' }]) ?? '', /point/);
  assert.match(checkCall('startDecomposition', [{ ...ok, extra: 1 }]) ?? '', /unknown field/);
  assert.equal(checkCall('listModuleSets', ['/m']), null);
  assert.match(checkCall('listModuleSets', ['']) ?? '', /path/);
  const reuse = {
    kind: 'reuse',
    models: ['/a'],
    classes: [
      { source: 0, classIndex: 0 },
      { source: 0, classIndex: 1 },
    ],
    approach: 'CI+TI+MC-BLN',
    perClass: 5,
    baselineEpochs: 1,
    seed: 1,
  };
  assert.equal(checkCall('startScenario', [reuse]), null);
  assert.match(
    checkCall('startScenario', [{ ...reuse, classes: [{ source: 1, classIndex: 0 }] }]) ?? '',
    /two/,
  );
  assert.match(
    checkCall('startScenario', [{ ...reuse, kind: 'replace', classes: undefined, replaced: 0 }]) ?? '',
    /two models/,
  );
});

test('decompose a tiny model as a job, then run a reuse and a replace scenario', async () => {
  const { api } = await quickApi('analysis');
  try {
    const [shapes] = await api.listDatasets();
    const train = (seed: number) =>
      api.startTraining({
        dataset: shapes!.id,
        depth: 8,
        epochs: 1,
        seed,
        augment: false,
        perClass: 10,
        batchSize: 16,
      });
    finished(await until(api, await train(1)));
    const [model] = await api.listModels();
    assert.ok(model?.classNames?.length && model.inputSize === 32);

    const dj = await api.startDecomposition({
      modelDir: model.dir,
      approaches: ['CI+TI+MC', 'CI+TI+MC-BLN', 'CI+TI+MC-BLN+MC-BI'],
      delta: 0.5,
      perClass: 5,
      seed: 1,
      point: 'relu',
    });
    assert.equal(dj.kind, 'decompose');
    const d = await until(api, dj);
    finished(d);
    const t = d.result?.table1;
    assert.ok(t);
    assert.equal(t.rows.length, 3);
    assert.equal(t.rows[0]!.modules.length, model.classNames.length);
    const m0 = t.rows[1]!.modules[0]!;
    assert.ok(m0.masks.length > 0);
    // The per-channel kept fractions add up to the module's kept positions (each fraction is
    // rounded to 3 decimals), over exactly the module's mask positions.
    let positions = 0;
    let kept = 0;
    for (const l of m0.masks) {
      const size = l.shape.reduce((a, b) => a * b, 1);
      assert.equal(l.keptByChannel.length, l.shape.at(-1));
      positions += size;
      kept += l.keptByChannel.reduce((a, f) => a + f * (size / l.keptByChannel.length), 0);
    }
    assert.equal(positions, m0.total);
    assert.ok(Math.abs(kept - m0.kept) <= 0.0005 * positions + 1e-9, `${kept} vs ${m0.kept}`);
    assert.ok(m0.kept < m0.total, 'the module removed something');
    assert.equal((await api.listModuleSets(model.dir)).length, 3);
    const runs = await api.listRuns();
    assert.ok(runs.some((r) => r.kind === 'decompose' && r.id === d.runId && r.status === 'finished'));

    const sj = await api.startScenario({
      kind: 'reuse',
      models: [model.dir],
      classes: [
        { source: 0, classIndex: 0 },
        { source: 0, classIndex: 2 },
      ],
      approach: 'CI+TI+MC-BLN',
      perClass: 5,
      baselineEpochs: 1,
      seed: 1,
    });
    const s = await until(api, sj);
    finished(s);
    const v = s.result?.scenario;
    assert.ok(v && v.ma !== undefined && v.tma >= 0 && v.kind === 'intra');
    assert.equal(v.classes.length, 2);

    finished(await until(api, await train(2)));
    const models = await api.listModels();
    // Every model shows its dataset by name, the scenario's baseline included.
    assert.equal(models.length, 3);
    for (const m of models)
      assert.match(m.dataset, /^(shapes 32x32|intra-reuse shapes 32x32:\w+, shapes 32x32:\w+)$/);
    const second = models.find((m) => m.dir !== model.dir)!;
    const rj = await api.startScenario({
      kind: 'replace',
      models: [model.dir, second.dir],
      replaced: 1,
      replacement: { source: 1, classIndex: 1 },
      approach: 'CI+TI+MC-BLN',
      perClass: 5,
      baselineEpochs: 1,
      seed: 1,
    });
    const r = await until(api, rj);
    finished(r);
    const rv = r.result?.scenario;
    assert.ok(rv && rv.top1 !== undefined && rv.modelTop1 !== undefined);
    assert.equal(rv.kind, 'intra');
  } finally {
    await api.close();
  }
});
