// The repair wizard (issue #7): the faulty-model maker, the fault analysis, the four repair
// options on a tiny model, and a saved repaired classifier that predicts identically.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { generateSynthetic, confusablePair } from '../src/core/node/data/index.ts';
import { Store } from '../src/core/node/store/store.ts';
import { argmaxRows } from '../src/core/node/train/metrics.ts';
import { openInference } from '../src/core/node/inference/index.ts';
import {
  closeRepaired,
  confusionMatrix,
  loadRepaired,
  makeFaultyDataset,
  mostConfusedPair,
  pairDataset,
  predictRepaired,
  recommend,
  relabelVictim,
} from '../src/core/node/wizard/index.ts';
import { runWizard, saveWizardOption } from '../src/core/node/workflows/wizard.ts';
import { colourDataset, quickRuns, trainedTiny } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

test('the faulty-model maker relabels only victim training images, as the faulty class', () => {
  const data = generateSynthetic('shapes', 32, { trainPerClass: 20, testPerClass: 4 });
  const [victim, faulty] = confusablePair('shapes');
  const { data: bad, relabelled } = makeFaultyDataset(data, victim, faulty, 0.6, 3);
  assert.equal(relabelled.length, 12);
  for (let i = 0; i < data.train.count; i++) {
    if (relabelled.includes(i)) {
      assert.equal(data.train.labels[i], victim);
      assert.equal(bad.train.labels[i], faulty);
    } else assert.equal(bad.train.labels[i], data.train.labels[i]);
  }
  assert.deepEqual([...bad.test.labels], [...data.test.labels], 'test labels untouched');
  assert.equal(bad.train.images, data.train.images);
  assert.equal(relabelVictim(data.train, victim, faulty, 0).relabelled.length, 0);
});

test('the most-confused pair is the victim row and faulty column with the highest rate', () => {
  const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
  const pred = Int32Array.from([0, 0, 0, 1, 2, 2, 2, 1, 2, 2]);
  const m = confusionMatrix(pred, labels, 3);
  assert.deepEqual(mostConfusedPair(m), { faulty: 2, victim: 1, count: 3, rate: 0.75 });
});

test('the recommendation: lowest confusion within a point of the best top-1, ties to the cheapest', () => {
  const r = recommend([
    { option: 1, top1: 0.8, confusion: 0.1, co2e_lbs: 3, seconds: 1 },
    { option: 2, top1: 0.795, confusion: 0.05, co2e_lbs: 2, seconds: 1 },
    { option: 3, top1: 0.795, confusion: 0.05, co2e_lbs: 1, seconds: 1 },
    { option: 4, top1: 0.7, confusion: 0, co2e_lbs: 0, seconds: 0 },
  ])!;
  assert.equal(r.option, 3);
  assert.match(r.reason, /cheapest/);
  assert.match(r.reason, /4 lose/);
});

/** A ResNet-8 trained one epoch on 4 colour classes, and a store beside it. */
async function tinyTrained(seed?: number) {
  const data = colourDataset({ classes: 4, train: 64, test: 32, size: 16, seed });
  const home = tempDir('wizard');
  const r = await trainedTiny(data, { runDir: path.join(home, 'model') });
  return { data, home, r, store: Store.open(path.join(home, 'db.sqlite')) };
}

test('options 1-4 on a tiny model: replacement, removal, two-class training, verification, save and reload', async () => {
  const { data, home, r, store } = await tinyTrained();
  try {
    const victim = 1;
    const faulty = 2;
    // Option 1's better model: the same network on the same data, another seed.
    const better = await trainedTiny(data, { runDir: path.join(home, 'better'), seed: 7 });
    const outcome = await runWizard(
      {
        model: r.modelDir!,
        data,
        faulty,
        victim,
        options: [1, 2, 3, 4],
        better: better.modelDir!,
        decompose: { perClass: 6 },
        pairTrain: { depth: 8, epochs: 1, batchSize: 16 },
        seed: 1,
      },
      quickRuns(store, path.join(home, 'work')),
    );
    const res = outcome.result;
    assert.deepEqual(
      res.options.map((o) => o.option),
      [1, 2, 3, 4],
    );
    assert.deepEqual(res.skipped, []);
    // The initial model's figures are its confusion matrix's: the diagonal, the planted pair's
    // cell in the victim's row, and the diagonal of the other classes.
    const cm = res.confusion_matrix;
    const rowSum = (c: number) => cm[c]!.reduce((a, b) => a + b, 0);
    const others = [0, 1, 2, 3].filter((c) => c !== victim && c !== faulty);
    const n = data.test.count;
    assert.equal(
      cm.flatMap((r) => r).reduce((a, b) => a + b, 0),
      n,
    );
    assert.equal(res.initial.top1, cm.reduce((a, r, c) => a + r[c]!, 0) / n);
    assert.equal(res.initial.confusion, cm[victim]![faulty]! / rowSum(victim));
    const othersN = others.reduce((a, c) => a + rowSum(c), 0);
    assert.equal(res.initial.other_top1, others.reduce((a, c) => a + cm[c]![c]!, 0) / othersN);
    // Every row counts whole test images (the victim's for confusion, the others' for other
    // top-1), and top-5 over 4 classes counts every image.
    const whole = (x: number, of: number) => Math.abs(x * of - Math.round(x * of)) < 1e-9;
    for (const o of [res.initial, res.composed, ...res.options]) {
      assert.ok(whole(o.top1, n) && whole(o.confusion, rowSum(victim)) && whole(o.other_top1, othersN));
      assert.equal(o.top5, 1);
    }
    // Option 2 trains on exactly the two classes.
    const pd = pairDataset(data, victim, faulty);
    assert.equal(res.pair_train?.images, pd.train.count);
    assert.deepEqual(res.pair_train?.classes, [victim, faulty]);
    assert.ok(whole(res.pair_train!.top1, pd.test.count), 'the two-class model is scored on the two classes');
    assert.ok([...pd.train.labels].every((l) => l === 0 || l === 1));
    const inData = [...data.train.labels].filter((l) => l === victim || l === faulty).length;
    assert.equal(pd.train.count, inData);
    // Option 1 (saved) takes the faulty class's module from the better model, every other
    // class's from the faulty one, and reloads predicting exactly as measured.
    const saved1 = await saveWizardOption(outcome, 1, home, 'repaired-1');
    const one = await loadRepaired(saved1);
    try {
      const p = one.pipeline;
      assert.equal(p.kind, 'modules');
      assert.deepEqual(p.labels![faulty], { part: 1, classIndex: faulty });
      for (let k = 0; k < 4; k++)
        if (k !== faulty) assert.deepEqual(p.labels![k], { part: 0, classIndex: k });
      const pred = await predictRepaired(p, data.test.images, data.test.count);
      const top1 = pred.filter((x, i) => x === data.test.labels[i]).length / data.test.count;
      assert.ok(Math.abs(top1 - res.options[0]!.top1) < 1e-9, 'option 1 reloaded predicts as measured');
      assert.equal((one.history as { option: number; model: string }).model, path.resolve(r.modelDir!));
    } finally {
      await closeRepaired(one.pipeline);
    }
    await assert.rejects(saveWizardOption(outcome, 1, home, 'repaired-1'), /exists already/);
    // Option 3 (saved) never predicts the removed class, and reloads with identical predictions.
    assert.equal(res.options.find((o) => o.option === 3)!.confusion, 0);
    const saved = await saveWizardOption(outcome, 3, home, 'repaired-3');
    const loaded = await loadRepaired(saved);
    try {
      const pred = await predictRepaired(loaded.pipeline, data.test.images, data.test.count);
      assert.ok(!pred.includes(faulty), 'option 3 never predicts the removed class');
      const again = await predictRepaired(loaded.pipeline, data.test.images, data.test.count);
      assert.deepEqual([...again], [...pred]);
      assert.equal((loaded.history as { option: number }).option, 3);
      const top1 = pred.filter((p, i) => p === data.test.labels[i]).length / data.test.count;
      assert.ok(
        Math.abs(top1 - res.options.find((o) => o.option === 3)!.top1) < 1e-9,
        'same accuracy as measured',
      );
    } finally {
      await closeRepaired(loaded.pipeline);
    }
  } finally {
    store.close();
  }
});

test('option 4 changes only predictions of the two classes, and saves and reloads identically', async () => {
  const { data, home, r, store } = await tinyTrained(5);
  try {
    const victim = 0;
    const faulty = 3;
    const outcome = await runWizard(
      {
        model: r.modelDir!,
        data,
        faulty,
        victim,
        options: [1, 4],
        decompose: { perClass: 6 },
        pairTrain: { depth: 8, epochs: 1, batchSize: 16 },
        seed: 1,
      },
      quickRuns(store, path.join(home, 'work')),
    );
    const res = outcome.result;
    // Option 1 without a better model is skipped with a reason.
    assert.equal(res.skipped[0]?.option, 1);
    assert.match(res.skipped[0]!.reason, /--better/);
    await assert.rejects(saveWizardOption(outcome, 1, home, 'nope'), /did not run/);
    const engine = await openInference(r.modelDir!);
    const base = argmaxRows(await engine.predict(data.test.images, data.test.count), 4);
    await engine.close();
    const loaded = await loadRepaired(await saveWizardOption(outcome, 4, home, 'verify'));
    try {
      assert.equal(loaded.pipeline.kind, 'verify');
      const pred = await predictRepaired(loaded.pipeline, data.test.images, data.test.count);
      for (let i = 0; i < pred.length; i++) {
        if (base[i] === victim || base[i] === faulty) assert.ok(pred[i] === victim || pred[i] === faulty);
        else assert.equal(pred[i], base[i], `image ${i}: not a pair prediction, unchanged`);
      }
      const top1 = pred.filter((p, i) => p === data.test.labels[i]).length / data.test.count;
      assert.ok(Math.abs(top1 - res.options[0]!.top1) < 1e-9, 'reloaded predicts as measured');
    } finally {
      await closeRepaired(loaded.pipeline);
    }
  } finally {
    store.close();
  }
});
