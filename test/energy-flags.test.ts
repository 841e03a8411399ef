// A CO2e ratio whose side is below the noise floor is null and flagged, in every attribution
// and every view (the CLI's tables and JSON, the app's views, Figure 6), and a process-attributed
// side from a crowded machine says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { belowNoiseFloor, noiseFloorW } from '../src/core/common/energy.ts';
import { figure6, printRows, rowWarnings } from '../src/cli/scenarios.ts';
import { energyRecord, figureOf, type EnergyRecord } from '../src/core/node/energy/formula.ts';
import { scenarioView } from '../src/core/node/views.ts';
import { costBetween, type Cost } from '../src/core/node/workflows/costs.ts';
import type { ScenarioRow } from '../src/core/node/workflows/grid.ts';

/** A row as the grid makes it, its costs from these energy figures. */
function row(reuse: EnergyRecord, baseline: EnergyRecord, decomposition: EnergyRecord): ScenarioRow {
  const b = costBetween(null, baseline);
  const zero: Cost = { seconds: 0, kwh: 0, co2e_lbs: 0, co2e_kg: 0, source: 'none', floor_kwh: 0 };
  const r = costBetween(null, reuse);
  const ratio = (x: Cost) => (r.co2e_lbs > 0 ? x.co2e_lbs / r.co2e_lbs : null); // what main computed
  return {
    scenario: 'reuse',
    kind: 'intra',
    key: 'a|b',
    classes: ['shapes 32x32:hollow-square', 'shapes 32x32:plus'],
    ma: 0.99,
    tma: 1,
    test_images: 200,
    cost: {
      decomposition: costBetween(null, decomposition),
      build: r,
      predict: zero,
      baseline_fixed: b,
      baseline_best: b,
      baseline_predict: zero,
    },
    co2e_ratio_fixed: ratio(b),
    co2e_ratio_best: ratio(b),
    co2e_ratio_fixed_with_decomposition: null,
    co2e_ratio_best_with_decomposition: null,
    engines: { reuse: 'onnxruntime', baseline: 'onnxruntime' },
    run_ids: { scenario: 1, baseline: 2 },
    baseline_best_epoch: 12,
    baseline_converged: true,
  };
}

/** What printRows writes to stdout. */
function printed(rows: ScenarioRow[]): string {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    printRows(rows);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

const machine = (seconds: number, cpuW: number, idleW: number) =>
  energyRecord(
    { seconds, cpuW: cpuW + idleW, dramW: 0, gpuW: 0, gpus: 0 },
    { cpuW: idleW, dramW: 0, gpuW: 0 },
    { source: 'estimate' },
  );

test("machine attribution: a reuse side of '0.0 W above idle 17.4 W' gives no ratio, flagged, where it once printed 179,153.9x", () => {
  // The demo's case: the reuse side drew 0.2 mW above an idle of 17.4 W over 3 s.
  const reuse = machine(3, 0.0002, 17.4);
  const baseline = machine(150, 8, 17.4);
  assert.ok(belowNoiseFloor(reuse), `floor ${noiseFloorW(reuse)} W`);
  assert.equal(noiseFloorW(reuse), 0.05 * 17.4);
  const r = row(reuse, baseline, machine(40, 6, 17.4));
  assert.ok(r.co2e_ratio_best! > 1e5, 'the ratio the old rule gave');

  const view = scenarioView(r);
  assert.equal(view.co2eRatioBest, null);
  assert.equal(view.co2eRatioFixed, null);
  // With the one-time decomposition the side is the decomposition's, well above its floor.
  assert.ok(view.co2eRatioBestWithDecomposition! > 0);
  assert.equal(view.reuseBelowFloor, true);
  assert.equal(view.attribution, 'machine');
  const [warning] = rowWarnings([r]);
  assert.match(
    warning!,
    /no energy above idle measured for the reuse side \(not above the noise floor\): no ratio/,
  );
  const out = printed([r]);
  assert.match(out, /hollow-square \+ shapes 32x32:plus .*\bn\/a\s+n\/a\s+!$/m);
  assert.match(out, /^! reuse \(intra\) shapes 32x32:hollow-square \+ shapes 32x32:plus: .*noise floor/m);
  // The grid's totals follow the same rule.
  assert.equal(figure6([r]).co2e_ratio_best, null);

  // A side well above the floor keeps its ratio, unflagged.
  const fine = row(machine(3, 2, 17.4), baseline, machine(40, 6, 17.4));
  const v = scenarioView(fine);
  assert.ok(v.co2eRatioBest !== null && Math.abs(v.co2eRatioBest - (150 * 8) / (3 * 2)) < 1e-6);
  assert.equal(rowWarnings([fine])[0], null);
});

test('process attribution: a side below its floor is flagged as such, and a side from a crowded machine says so', () => {
  const processFigure = (
    seconds: number,
    cpuW: number,
    cpu: { run: number; busy: number; capacity: number },
  ) =>
    figureOf(seconds, { cpuW, dramW: 0, gpuW: 0, gpus: 0 }, 0, {
      source: 'estimate',
      attribution: 'process',
      cpu: { runCpuS: cpu.run, busyCpuS: cpu.busy, capacityCpuS: cpu.capacity },
    });
  const baseline = processFigure(150, 7, { run: 290, busy: 295, capacity: 300 });
  // Next to nothing: 2 ms of CPU over 3 s.
  const tiny = processFigure(3, 0.002, { run: 0.002, busy: 0.1, capacity: 6 });
  const r = row(tiny, baseline, baseline);
  assert.equal(scenarioView(r).co2eRatioBest, null);
  assert.match(rowWarnings([r])[0]!, /the reuse side drew less than the noise floor: no ratio/);

  // A tenth of a fully busy machine: a real figure, with a ratio, flagged as a crowded machine's.
  const crowded = processFigure(3, 0.9, { run: 0.6, busy: 6, capacity: 6 });
  const c = row(crowded, baseline, baseline);
  const view = scenarioView(c);
  assert.ok(view.co2eRatioBest! > 0);
  assert.deepEqual(view.crowdedSides, ['reuse']);
  assert.equal(view.attribution, 'process');
  assert.match(
    rowWarnings([c])[0]!,
    /the reuse side ran on a crowded machine \(under 25% of its busy CPU time\)/,
  );
  assert.match(printed([c]), /^! reuse .*crowded machine/m);
});

test('rows stored before the noise floor existed are judged by the same rule when read back', () => {
  const r = row(machine(3, 0, 17.4), machine(150, 8, 17.4), machine(40, 6, 17.4));
  // An older row: its costs carry no floor, and its stored ratio was whatever the old rule gave.
  for (const c of Object.values(r.cost)) delete (c as Partial<Cost>).floor_kwh;
  r.co2e_ratio_best = 179153.9;
  const view = scenarioView(r);
  assert.equal(view.co2eRatioBest, null);
  assert.equal(view.reuseBelowFloor, true);
});
