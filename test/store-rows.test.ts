// A row the store cannot read in full (a JSON column that does not parse, or does not hold its
// shape) never breaks a listing: the row is shown with that field missing, and one warning
// names the row, the field and the rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCoreApi } from '../src/core/node/api.ts';
import { energyRecord, NO_IDLE } from '../src/core/node/energy/formula.ts';
import { FAKE_MACHINE } from './helpers/fixtures.ts';
import { v } from '../src/core/common/schema.ts';
import { defaultDbFile, Store } from '../src/core/node/store/store.ts';
import { tempDir } from './helpers/temp.ts';
import { cli } from './helpers/cli.ts';

const machine = FAKE_MACHINE;

/** A data folder with a sound run (1), and runs 2 and 3 whose JSON columns were damaged. */
function damagedHome(): { home: string; file: string; grid: number } {
  const home = tempDir('store-rows');
  const file = defaultDbFile(home);
  const s = Store.open(file);
  const energy = energyRecord({ seconds: 60, cpuW: 10, dramW: 2, gpuW: 0, gpus: 0 }, NO_IDLE, {
    source: 'rapl',
  });
  const grid = s.experiments.start({ kind: 'grid', label: 'reuse grid', params: { pick: 2 } });
  const ids = [1, 2, 3].map((i) => {
    const id = s.runs.start({ kind: 'reuse', params: { i }, machine, experimentId: grid });
    s.epochs.add(id, { epoch: 1, loss: 0.5, energy });
    s.runs.finish(id, { status: 'finished', result: { top1: 0.9 }, energy });
    s.grids.open('g1', 'reuse', { pick: 2 }, grid);
    s.grids.putRow('g1', `scenario:reuse:${i}`, 'reuse', { co2e_ratio_fixed: i, co2e_ratio_best: i }, id);
    return id;
  });
  s.grids.setStatus('g1', 'finished');
  s.write(() => {
    const set = (sql: string, ...args: unknown[]) => s.db.prepare(sql).run(...args);
    set(`UPDATE runs SET params_json = 'not json', energy_json = '{"kwh": ' WHERE id = ?`, ids[1]);
    set(
      `UPDATE runs SET energy_json = ?, result_json = '[broken' WHERE id = ?`,
      JSON.stringify({ ...energy, kwh: 'lots' }),
      ids[2],
    );
    const { source: _, ...unnamed } = energy;
    set(`UPDATE epochs SET energy_json = ? WHERE run_id = ?`, JSON.stringify(unnamed), ids[2]);
    set(`UPDATE machines SET gpus_json = 'nope'`);
    set(`UPDATE grid_rows SET row_json = '{"co2e' WHERE key = 'scenario:reuse:2'`);
    set(`UPDATE experiments SET params_json = '3' WHERE id = ?`, grid);
  });
  s.close();
  return { home, file, grid };
}

test('a row with a damaged JSON column is listed with that field missing and one warning (CLI runs, runs show, export)', () => {
  const { file } = damagedHome();
  const list = cli(['runs', '--db', file, '--json']);
  assert.equal(list.status, 0, list.stderr);
  const runs = (
    JSON.parse(list.stdout) as {
      runs: { id: number; params: unknown; energy: unknown; result: unknown; machine: { gpus: string[] } }[];
    }
  ).runs;
  assert.deepEqual(
    runs.map((r) => r.id),
    [3, 2, 1],
    'every run listed',
  );
  const [third, second, first] = runs;
  assert.deepEqual(first!.params, { i: 1 });
  assert.ok(first!.energy, 'a sound row keeps its energy');
  assert.deepEqual([second!.params, second!.energy], [{}, null]);
  assert.deepEqual([third!.params, third!.energy, third!.result], [{ i: 3 }, null, null]);
  assert.deepEqual(third!.machine.gpus, []);
  for (const line of [
    /^warning: run 2: its parameters could not be read \(not valid JSON: .+\); shown without it\.$/m,
    /^warning: run 2: its energy could not be read \(not valid JSON: .+\); shown without it\.$/m,
    /^warning: run 3: its energy could not be read \(kwh: must be number \(got "lots"\)\); shown without it\.$/m,
    /^warning: run 3: its result could not be read \(not valid JSON: .+\); shown without it\.$/m,
    /^warning: machine 1: its GPU list could not be read \(not valid JSON: .+\); shown without it\.$/m,
  ])
    assert.match(list.stderr, line);
  assert.equal(
    list.stderr.match(/machine 1: its GPU list/g)?.length,
    1,
    'said once, though three runs share it',
  );

  const show = cli(['runs', 'show', '3', '--db', file]);
  assert.equal(show.status, 0, show.stderr);
  assert.match(show.stdout, /energy {3}\(none recorded\)/);
  assert.match(show.stdout, /epoch 1 /);
  assert.match(
    show.stderr,
    /^warning: run 3, epoch 1: its energy could not be read \(source: is missing\); shown without it\.$/m,
  );

  const exported = cli(['export', '--db', file, '--format', 'json']);
  assert.equal(exported.status, 0, exported.stderr);
  assert.equal((JSON.parse(exported.stdout) as { runs: unknown[] }).runs.length, 3);
});

test('the app lists runs, experiments and energy around a damaged row; a grid reruns a piece it cannot read', async () => {
  const { home, file, grid } = damagedHome();
  const api = createCoreApi({ home });
  try {
    assert.equal((await api.listRuns()).length, 3);
    assert.equal((await api.getRun(2)).epochs.length, 1);
    const experiments = await api.listExperiments();
    assert.equal(experiments.length, 1);
    assert.equal(experiments[0]!.runCount, 3);
    const summary = await api.getEnergySummary();
    assert.deepEqual(
      summary.runs.map((r) => r.runId),
      [1],
      'only the energy that can be read is listed',
    );
  } finally {
    await api.close();
  }

  const warnings: string[] = [];
  const s = Store.open(file, { onWarning: (line) => warnings.push(line) });
  try {
    const e = s.experiments.get(grid)!;
    assert.deepEqual(e.params, {}, 'an experiment whose parameters are not an object shows none');
    assert.deepEqual(
      e.scenarios.map((x) => x.key),
      ['reuse:1', 'reuse:3'],
    );
    // The grid resumes without the piece it cannot read, so it runs that one again.
    assert.deepEqual([...s.grids.open('g1', 'reuse', { pick: 2 }, grid).keys()].sort(), [
      'scenario:reuse:1',
      'scenario:reuse:3',
    ]);
    // The bench's read of the newest finished grid: rows checked with the bench's schema.
    s.grids.setStatus('g1', 'finished');
    const ratios = s.grids.latestFinished(v.object({ co2e_ratio_fixed: v.number() }));
    assert.deepEqual(ratios, {
      id: 'g1',
      kind: 'reuse',
      scenarios: [{ co2e_ratio_fixed: 1 }, { co2e_ratio_fixed: 3 }],
    });
    s.runs.list();
    s.runs.list();
    assert.equal(new Set(warnings).size, warnings.length, 'each warning once per store');
    assert.ok(
      warnings.some((w) =>
        /^experiment 1: its parameters could not be read \(the value: must be Object \(got 3\)\)/.test(w),
      ),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) =>
        /^grid g1, scenario:reuse:2: its row could not be read .*it is run again\.$/.test(w),
      ),
    );
  } finally {
    s.close();
  }
});
