// Reuse and replace (issue: Tables 2-5, Figure 6): scenario arithmetic on a tiny model whose
// modules keep every node, continuous learning, the baselines' data, refusals, and a whole
// grid on the embedded datasets with its rows, ratios and resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import type { ImageSet, LoadedDataset } from '../src/core/common/dataset.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { generateSynthetic } from '../src/core/node/data/index.ts';
import { composedScores, decompose, gather } from '../src/core/node/decompose/index.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import { planModel } from '../src/core/node/graph/plan.ts';
import { continualModule } from '../src/core/node/reuse/continual.ts';
import { addCosts, co2eRatio } from '../src/core/node/workflows/costs.ts';
import { runGrid, type GridSpec } from '../src/core/node/workflows/grid.ts';
import { scenarioView } from '../src/core/node/views.ts';
import { gatherClasses, intraReuseGrid, scenarioDataset } from '../src/core/node/reuse/scenario.ts';
import { Store } from '../src/core/node/store/store.ts';
import { DEFAULT_SETTINGS } from '../src/core/node/store/settings.ts';
import { topKAccuracy } from '../src/core/node/train/metrics.ts';
import { alwaysActiveModel } from './helpers/always-active.ts';
import { colourDataset, quickRuns, trainedTiny } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

const PRE = { mean: 0, std: 1 };

function randomImages(n: number, classes: number, seed: number): ImageSet {
  const per = 4 * 4 * 3;
  const images = new Uint8Array(n * per);
  let s = seed;
  for (let i = 0; i < images.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    images[i] = (s >>> 16) % 200;
  }
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % classes), count: n, size: 4 };
}

test('a composed pair predicts the hand-computed argmax of its two modules', async () => {
  const art = await alwaysActiveModel();
  const engine = await openInference(art, { preprocess: PRE });
  try {
    const train = randomImages(16, 4, 1);
    const [set] = await decompose(engine, planModel(art), train, {
      perClass: 4,
      approaches: ['CI+TI+MC'],
      point: 'conv',
    });
    assert.ok(
      set!.modules.every((m) => m.ji === 1),
      'every node is always active: modules keep all',
    );
    const test = randomImages(12, 4, 7);
    const pair = [1, 3];
    const c = await composedScores(
      pair.map((k) => ({ engine, set: set!, classes: [k] })),
      test.images,
      test.count,
    );
    // By hand: module k's concerned probability is sigmoid(z_k - mean_{j != k} z_j), and
    // z_k - z_j = log p_k - log p_j for the model's own softmax output.
    const probs = await engine.predict(test.images, test.count);
    for (let i = 0; i < test.count; i++) {
      const logp = Array.from(probs.subarray(i * 4, i * 4 + 4), Math.log);
      const margin = (k: number) => logp[k]! - logp.filter((_, j) => j !== k).reduce((a, b) => a + b, 0) / 3;
      const want = margin(pair[0]!) >= margin(pair[1]!) ? 0 : 1;
      const got = c.scores[i * 2]! >= c.scores[i * 2 + 1]! ? 0 : 1;
      assert.equal(got, want, `image ${i}`);
      const sig = (x: number) => 1 / (1 + Math.exp(-x));
      assert.ok(Math.abs(c.scores[i * 2]! - sig(margin(pair[0]!))) < 1e-4);
    }
  } finally {
    await engine.close();
  }
});

test('modules of models with different preprocessing compose: each model preprocesses the same images its own way', async () => {
  const art = await alwaysActiveModel();
  const plain = await openInference(art, { preprocess: PRE });
  const scaled = await openInference(art, { preprocess: { mean: 100, std: 50 } });
  try {
    const train = randomImages(16, 4, 1);
    const opts = { perClass: 4, approaches: ['CI+TI+MC' as const], point: 'conv' as const };
    const [a] = await decompose(plain, planModel(art), train, opts);
    const [b] = await decompose(scaled, planModel(art), train, opts);
    const test = randomImages(12, 4, 7);
    const both = await composedScores(
      [
        { engine: plain, set: a!, classes: [1] },
        { engine: scaled, set: b!, classes: [3] },
      ],
      test.images,
      test.count,
    );
    // Each column is what its own model gives alone, on its own preprocessing.
    const alone = [
      await composedScores([{ engine: plain, set: a!, classes: [1] }], test.images, test.count),
      await composedScores([{ engine: scaled, set: b!, classes: [3] }], test.images, test.count),
    ];
    for (let i = 0; i < test.count; i++)
      for (const j of [0, 1]) assert.equal(both.margins[i * 2 + j], alone[j]!.margins[i], `image ${i}`);
    assert.notDeepEqual(alone[0]!.margins, alone[1]!.margins);
  } finally {
    await plain.close();
    await scaled.close();
  }
});

test('continuous learning only removes nodes the other dataset activates and the module does not, and leaves the original untouched', async () => {
  const data = colourDataset({ classes: 4, train: 48, size: 16 });
  const other = colourDataset({ classes: 4, train: 48, size: 16, seed: 9 });
  const r = await trainedTiny(data);
  const engine = await openInference(r.modelDir!);
  try {
    const { readModelDir } = await import('../src/core/node/models/io.ts');
    const plan = planModel((await readModelDir(r.modelDir!)).artifacts);
    const [set] = await decompose(engine, plan, data.train, {
      perClass: 6,
      approaches: ['CI+TI+MC'],
      point: 'conv',
    });
    const before = JSON.stringify([...set!.modules[0]!.removed].map(([k, v]) => [k, [...v]]));
    const unconcerned = gatherClasses([other.train], [{ source: 0, classIndex: 2 }]);
    const modified = await continualModule(engine, plan, set!, 0, data.train, unconcerned);
    assert.equal(
      JSON.stringify([...set!.modules[0]!.removed].map(([k, v]) => [k, [...v]])),
      before,
      'original untouched',
    );
    const sample = set!.sample[0]!;
    const own = await engine.observe(gather(data.train, sample), sample.length, { point: 'conv' });
    const act = await engine.observe(unconcerned.images, unconcerned.count, { point: 'conv' });
    let added = 0;
    let expected = 0;
    for (const [layer, r0] of set!.modules[0]!.removed) {
      const r1 = modified.removed.get(layer)!;
      const a = act.get(layer)!;
      const o = own.get(layer)!;
      for (let i = 0; i < r0.length; i++) {
        assert.ok(r1[i]! >= r0[i]!, 'only removes');
        if (r1[i] && !r0[i]) {
          added++;
          assert.equal(a[i], 1, 'removed nodes respond to the other dataset');
          assert.equal(o[i], 0, "and not to the module's own sample");
        }
        if (!r0[i] && a[i] && !o[i]) {
          expected++;
          assert.equal(
            r1[i],
            1,
            "every kept node the other dataset activates and the module's sample does not goes",
          );
        }
      }
    }
    // The other dataset's class does activate nodes the module's own sample leaves silent: a
    // continual module that removes nothing fails here.
    assert.ok(expected > 0, 'this data gives continuous learning something to remove');
    assert.equal(added, expected);
    assert.ok(modified.kept < set!.modules[0]!.kept);
    assert.equal(modified.kept, set!.modules[0]!.kept - added);
  } finally {
    await engine.close();
  }
});

test("a baseline gets exactly the scenario's classes, relabelled in scenario order", () => {
  const a = colourDataset({ classes: 4, train: 40, test: 20 });
  const b = colourDataset({ classes: 3, train: 30, test: 15, seed: 5 });
  const s = {
    kind: 'inter-reuse' as const,
    key: 'x',
    classes: [
      { source: 0, classIndex: 2 },
      { source: 1, classIndex: 1 },
    ],
    images: [
      { source: 0, classIndex: 2 },
      { source: 1, classIndex: 1 },
    ],
  };
  const d = scenarioDataset([a, b], s);
  assert.equal(d.info.classNames.length, 2);
  assert.equal(d.train.count, 10 + 10);
  assert.deepEqual([...new Set(d.train.labels)].sort(), [0, 1]);
  // The first image of label 1 is model B's first image of its class 1.
  const per = 16 * 16 * 3;
  const firstB = [...b.train.labels].indexOf(1);
  const firstLabel1 = [...d.train.labels].indexOf(1);
  assert.deepEqual(
    d.train.images.subarray(firstLabel1 * per, (firstLabel1 + 1) * per),
    b.train.images.subarray(firstB * per, (firstB + 1) * per),
  );
  assert.equal(intraReuseGrid(10, 1, 4).length, 6, 'four classes make six pairs');
});

test('modules of models with different input sizes are refused with the reason', async () => {
  const small = colourDataset({ size: 16 });
  const large = colourDataset({ size: 32 });
  assert.throws(
    () =>
      gatherClasses(
        [small.test, large.test],
        [
          { source: 0, classIndex: 0 },
          { source: 1, classIndex: 1 },
        ],
      ),
    (e) => isUserError(e) && /different input sizes cannot be composed/.test(e.hint),
  );
  const store = Store.open(path.join(tempDir('db'), 'db.sqlite'));
  try {
    await assert.rejects(
      runGrid(
        gridSpec('reuse', ['inter']),
        [
          { dir: '/nowhere/a', data: small },
          { dir: '/nowhere/b', data: large },
        ],
        {
          store,
          settings: DEFAULT_SETTINGS,
          workDir: os.tmpdir(),
        },
      ),
      (e) => isUserError(e) && e.code === 'incompatible-modules',
    );
  } finally {
    store.close();
  }
});

function gridSpec(kind: 'reuse' | 'replace', scopes: ('intra' | 'inter')[]): GridSpec {
  return {
    kind,
    scopes,
    seed: 1,
    pick: 3,
    pairs: 2,
    approach: 'CI+TI+MC-BLN',
    decompose: { perClass: 8, point: 'relu', delta: 0.5, rule: 'prose' },
    baseline: { epochs: 1, patience: 1, depth: 8, batchSize: 16 },
    inference: 'auto',
  };
}

async function tinyModel(data: LoadedDataset): Promise<string> {
  return (await trainedTiny(data)).modelDir!;
}

test('a reuse grid on the embedded datasets records every row, its baseline and CO2e ratios from recorded energy, and resumes', async () => {
  const shapes = generateSynthetic('shapes', 32, { trainPerClass: 8, testPerClass: 4 });
  const textures = generateSynthetic('textures', 32, { trainPerClass: 8, testPerClass: 4 });
  const models = [
    { dir: await tinyModel(shapes), data: shapes },
    { dir: await tinyModel(textures), data: textures },
  ];
  const home = tempDir('grid-home');
  const store = Store.open(path.join(home, 'db.sqlite'));
  try {
    const ctx = quickRuns(store, home);
    const spec = gridSpec('reuse', ['intra', 'inter']);
    const g = await runGrid(spec, models, ctx);
    assert.equal(g.rows.length, 3 + 2, 'three intra pairs and two inter pairs');
    for (const r of g.rows) {
      // MA (and MMA) are the scenario run's recorded top-1 over whole test images; TMA is the
      // baseline training's recorded top-1 on the same images.
      const recorded = store.runs.get(r.run_ids.scenario!)!.result as { top1: number; mma?: number };
      const base = store.runs.get(r.run_ids.baseline!)!.result as { top1: number };
      const whole = (x: number) => Math.abs(x * r.test_images - Math.round(x * r.test_images)) < 1e-9;
      assert.equal(r.ma, recorded.top1);
      assert.equal(r.tma, base.top1);
      assert.ok(whole(r.ma!) && whole(r.tma), `${r.ma} and ${r.tma} count whole images of ${r.test_images}`);
      if (r.kind === 'inter') {
        assert.equal(r.mma, recorded.mma);
        assert.ok(whole(r.mma!));
      } else assert.equal(r.mma, undefined, 'MMA is for inter-dataset reuse only');
      // Each side is its parts added up, their noise floors too.
      const reuse = addCosts(r.cost.build, r.cost.predict);
      const fixed = addCosts(r.cost.baseline_fixed, r.cost.baseline_predict);
      // Tiny runs: sampled every 5 ms so even a short epoch gets its energy.
      assert.ok(r.cost.baseline_fixed.seconds > 0, 'the baseline recorded its time');
      assert.ok(
        r.cost.baseline_fixed.co2e_lbs + r.cost.baseline_predict.co2e_lbs > 0,
        'the baseline recorded energy',
      );
      assert.equal(r.co2e_ratio_fixed, co2eRatio(fixed, reuse));
      // A reuse side this small may be below its noise floor: then no ratio, and the row says so.
      if (r.co2e_ratio_fixed === null) assert.equal(scenarioView(r).reuseBelowFloor, true);
      else assert.ok(r.co2e_ratio_fixed_with_decomposition! <= r.co2e_ratio_fixed);
      assert.ok(r.run_ids.scenario && r.run_ids.baseline);
      const run = store.runs.get(r.run_ids.scenario);
      assert.equal(run?.kind, 'reuse');
      assert.equal(run?.status, 'finished');
    }
    // The TMA is the baseline's accuracy on exactly the scenario's test images.
    const r0 = g.rows[0]!;
    assert.equal(r0.test_images, 8);
    // Every run of the grid belongs to one experiment, each in its role; the experiment holds
    // the scenario rows, in the order they finished.
    const ids = new Set(g.rows.flatMap((r) => [r.run_ids.scenario!, r.run_ids.baseline!]));
    const experiments = new Set([...ids].map((id) => store.runs.get(id)!.experiment_id));
    assert.equal(experiments.size, 1);
    const e = store.experiments.get([...experiments][0]!)!;
    assert.equal(e.kind, 'grid');
    const roles = e.run_list.map((r) => r.role);
    assert.equal(roles.filter((r) => r === 'decomposition').length, 2, 'one decomposition per model');
    assert.equal(roles.filter((r) => r === 'reuse').length, 5);
    assert.equal(
      roles.filter((r) => r === 'baseline').length,
      new Set(g.rows.map((r) => r.run_ids.baseline)).size,
    );
    for (const r of e.run_list.filter((x) => x.role === 'baseline'))
      assert.ok(r.scenario, 'a baseline names the classes it was trained on');
    assert.deepEqual(
      e.scenarios.map((x) => x.row),
      g.rows,
    );
    // Running the same grid again resumes: nothing is recomputed, and its experiment goes on.
    const again = await runGrid(spec, models, ctx);
    assert.equal(again.resumed, 5);
    assert.deepEqual(again.rows, g.rows);
    assert.equal(store.experiments.list().length, 1);
    // The same grid measured in the other attribution is another grid: its ratios would mix
    // two meanings of energy if it resumed these rows.
    const other = ctx.settings.attribution === 'process' ? 'machine' : 'process';
    const remeasured = await runGrid(spec, models, {
      ...ctx,
      settings: { ...ctx.settings, attribution: other },
    });
    assert.equal(remeasured.resumed, 0);
    assert.equal(remeasured.rows.length, 5);
    assert.equal(store.experiments.list().length, 2);
  } finally {
    store.close();
  }
});

test('top-k over composed columns matches the shared metric', () => {
  const scores = new Float32Array([0.9, 0.2, 0.1, 0.8]);
  assert.equal(topKAccuracy(scores, Int32Array.of(0, 1), 2, 1), 1);
  assert.equal(
    co2eRatio(
      { seconds: 1, kwh: 1, co2e_lbs: 2, co2e_kg: 1, source: 'x' },
      { seconds: 1, kwh: 0, co2e_lbs: 0, co2e_kg: 0, source: 'x' },
    ),
    null,
  );
});
