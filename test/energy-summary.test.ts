// The Energy page's totals count every recorded run, not a page of the latest ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCoreApi } from '../src/core/node/api.ts';
import { energyRecord, NO_IDLE } from '../src/core/node/energy/formula.ts';
import { defaultDbFile, Store } from '../src/core/node/store/store.ts';
import { tempDir } from './helpers/temp.ts';

test('energy totals add up every run, past the 500 the page lists, measured and estimated', async () => {
  const home = tempDir('energy-summary');
  const store = Store.open(defaultDbFile(home));
  const RUNS = 620;
  let kwh = 0;
  let kg = 0;
  let estimated = 0;
  try {
    for (let i = 0; i < RUNS; i++) {
      // Every third run is estimated (no power counter); one joins a measured and an estimated part.
      const source = i === 7 ? 'rapl+estimate' : i % 3 === 0 ? 'estimate (TDP)' : 'rapl';
      const e = energyRecord({ seconds: 60 + i, cpuW: 10 + (i % 7), dramW: 2, gpuW: 0, gpus: 0 }, NO_IDLE, {
        source,
      });
      const id = store.runs.start({ kind: 'train', params: { i } });
      store.runs.finish(id, { status: 'finished', energy: e });
      kwh += e.kwh;
      kg += e.co2e_kg;
      if (source.includes('estimate')) estimated++;
    }
    // A run with no energy record (failed before measuring) counts in neither.
    store.runs.finish(store.runs.start({ kind: 'train', params: {} }), { status: 'failed', error: 'x' });
  } finally {
    store.close();
  }
  const api = createCoreApi({ home });
  try {
    const s = await api.getEnergySummary();
    assert.equal(s.totals.runs, RUNS);
    assert.ok(Math.abs(s.totals.kwh - kwh) < 1e-9 * RUNS, `${s.totals.kwh} vs ${kwh}`);
    assert.ok(Math.abs(s.totals.co2eKg - kg) < 1e-9 * RUNS);
    assert.equal(s.totals.estimatedRuns, estimated);
    // The list stays a page of the latest runs with energy, oldest first, ending with the newest.
    assert.ok(s.runs.length >= 499 && s.runs.length <= 500, String(s.runs.length));
    assert.equal(s.runs.at(-1)!.runId, RUNS);
    assert.ok(s.runs[0]!.runId < s.runs.at(-1)!.runId);
  } finally {
    await api.close();
  }
});
