import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './helpers/temp.ts';
import { cli, jsonLines } from './helpers/cli.ts';

test('decomposer --help lists the commands; each command has --help', () => {
  const r = cli(['--help']);
  assert.equal(r.status, 0);
  for (const c of ['train', 'demo', 'bench', 'serve']) {
    assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
    const h = cli([c, '--help']);
    assert.equal(h.status, 0, `${c} --help`);
    assert.match(h.stdout, /^Usage: decomposer/);
  }
});

test('bad arguments and bad input exit 2 with one clear line, no stack trace', async () => {
  const unknown = cli(['frobnicate']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Unknown command "frobnicate"/);

  const badOption = cli(['train', '--epochz', '3']);
  assert.equal(badOption.status, 2);

  const home = tempDir('cli');
  const missing = cli(['train', '--dataset', 'cifar10:/no/such/folder', '--home', home, '--json']);
  assert.equal(missing.status, 2);
  assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace');
  const err = JSON.parse(missing.stdout.trim()) as { error: { message: string } };
  assert.match(err.error.message, /\/no\/such\/folder/);

  const badBackend = cli(['demo', '--backend', 'quantum']);
  assert.equal(badBackend.status, 2);
  assert.match(
    badBackend.stderr,
    /--backend: must be auto, onnxruntime, tensorflow, wasm, cpu \(got "quantum"\)/,
  );

  // A grid's option given to Table 1 is refused, not silently ignored.
  const gridOption = cli(['experiment', 'decomposition', '--model', home, '--approach', 'CI+TI+MC']);
  assert.equal(gridOption.status, 2);
  assert.match(gridOption.stderr, /--approach chooses the approach of a reuse or replace grid/);
});

test('decomposer demo --json trains on the embedded dataset and prints backend and model', async () => {
  const home = tempDir('cli');
  const out = path.join(home, 'run');
  const r = cli([
    'demo',
    '--json',
    '--epochs',
    '1',
    '--depth',
    '8',
    '--per-class',
    '6',
    '--decompose-per-class',
    '6',
    '--home',
    home,
    '--out',
    out,
    '--idle-seconds',
    '0',
    '--baseline-epochs',
    '4',
    '--baseline-patience',
    '1',
    '--chart',
    path.join(home, 'figure6.svg'),
  ]);
  assert.equal(r.status, 0, r.stderr);
  // stdout is the JSON alone; progress went to stderr although --json was given.
  const j = JSON.parse(r.stdout) as { backend: string; model: Record<string, unknown> };
  assert.match(r.stderr, /epoch 1\/1/);
  assert.equal(j.backend, 'onnxruntime');
  const m = j.model as {
    depth: number;
    dataset: string;
    classes: number;
    epochs: number;
    best_epoch: number;
    top1: number;
    top5: number;
    seconds: number;
  };
  assert.equal(m.depth, 8);
  assert.match(m.dataset, /^shapes/);
  assert.equal(m.classes, 10);
  assert.equal(m.epochs, 1);
  assert.equal(m.best_epoch, 1);
  assert.ok(m.top5 >= m.top1);
  assert.ok(m.seconds > 0);
  const e = (j as unknown as { energy: { train: Record<string, unknown> } }).energy.train;
  assert.match(String(e.source), /^(rapl|powermetrics|estimate)/); // estimates are labelled as such
  for (const k of [
    'seconds',
    'cpu_w',
    'dram_w',
    'gpu_w',
    'gpus',
    'idle_w',
    'pue',
    'kwh',
    'co2e_lbs',
    'co2e_kg',
  ])
    assert.equal(typeof e[k], 'number', k);
  assert.match(r.stderr, /idle power not measured/i);
  // Decomposition (Table 1), and one reuse and replace scenario of each kind (Tables 2-5).
  const d = j as unknown as {
    decomposition: {
      approach: string;
      top1: number;
      top5: number;
      ji: number;
      ji_modules: number;
      seconds: number;
    }[];
    reuse: {
      kind: string;
      ma: number;
      mma?: number;
      tma: number;
      co2e_ratio_fixed: number | null;
      co2e_ratio_best: number | null;
      baseline_best_epoch: number | null;
      baseline_converged: boolean | null;
    }[];
    replace: { kind: string; top1: number; top5: number; tma: number; co2e_ratio_fixed: number | null }[];
  };
  // Every scenario says how its baseline ended: its best epoch (of at most 4) and whether it converged.
  for (const x of d.reuse) {
    assert.ok(x.baseline_best_epoch! >= 1 && x.baseline_best_epoch! <= 4, JSON.stringify(x));
    assert.equal(typeof x.baseline_converged, 'boolean');
  }
  // The same Figure 6 as the app, as an SVG file: four bars per scenario.
  const svg = await readFile(path.join(home, 'figure6.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(svg.match(/class="fig6-bar"/g)?.length, 4 * (d.reuse.length + d.replace.length));
  assert.deepEqual(
    d.decomposition.map((x) => x.approach),
    ['CI+TI+MC', 'CI+TI+MC-BLN', 'CI+TI+MC-BLN+MC-BI'],
  );
  for (const x of d.decomposition) {
    assert.ok(x.top5 >= x.top1);
    for (const k of ['ji', 'ji_modules'] as const) assert.ok(x[k] > 0 && x[k] <= 1, k);
  }
  assert.deepEqual(
    d.reuse.map((x) => x.kind),
    ['intra', 'inter'],
  );
  assert.deepEqual(
    d.replace.map((x) => x.kind),
    ['intra', 'inter'],
  );
  for (const x of d.reuse) {
    assert.ok(x.ma >= 0 && x.ma <= 1 && x.tma >= 0 && x.tma <= 1);
    assert.ok(x.co2e_ratio_fixed === null || x.co2e_ratio_fixed > 0);
  }
  assert.equal(typeof d.reuse[1]!.mma, 'number', 'inter reuse reports MMA');
  for (const x of d.replace) assert.ok(x.top1 >= 0 && x.top5 >= x.top1);
  // Table 1 is a recorded decompose run, as in the app's demo: its result is the printed table.
  const ids = (j as unknown as { run_ids: { train: number; decomposition?: number } }).run_ids;
  assert.equal(typeof ids.decomposition, 'number', 'the demo records its Table 1 as a run');
  const shown = cli(['runs', 'show', String(ids.decomposition), '--json', '--home', home]);
  assert.equal(shown.status, 0, shown.stderr);
  const rec = (
    JSON.parse(shown.stdout) as {
      run: {
        kind: string;
        status: string;
        result: { test_images: number; decomposition: { approach: string; ji: number }[] };
      };
    }
  ).run;
  assert.equal(rec.kind, 'decompose');
  assert.equal(rec.status, 'finished');
  assert.deepEqual(
    rec.result.decomposition.map((x) => [x.approach, x.ji]),
    d.decomposition.map((x) => [x.approach, x.ji]),
  );
  // The model's and the modules' accuracies count whole images of the demo's test set (a
  // fifth as many per class as training images, at least 10: 100 here).
  const n = rec.result.test_images;
  assert.equal(n, 100);
  const whole = (x: number) => Math.abs(x * n - Math.round(x * n)) < 1e-9;
  for (const x of [m.top1, m.top5, ...d.decomposition.flatMap((r) => [r.top1, r.top5])])
    assert.ok(whole(x), `${x} of ${n} images`);
  // How long each part took, in the order they ran; the parts add up to the total (each
  // rounded to a tenth of a second), and the baselines are a share of reuse and replace.
  const sec = (j as unknown as { seconds: Record<string, number> }).seconds;
  const parts = ['data', 'model', 'decomposition', 'scenario_models', 'reuse', 'replace'];
  assert.deepEqual(Object.keys(sec), [...parts, 'baselines', 'total']);
  for (const k of parts) assert.ok(sec[k]! >= 0, k);
  assert.ok(sec.model! > 0 && sec.reuse! > 0 && sec.replace! > 0, JSON.stringify(sec));
  const sum = parts.reduce((a, k) => a + sec[k]!, 0);
  assert.ok(Math.abs(sec.total! - sum) <= 0.1 * parts.length, JSON.stringify(sec));
  assert.ok(sec.baselines! > 0 && sec.baselines! <= sec.reuse! + sec.replace!, JSON.stringify(sec));
  assert.ok(m.seconds <= sec.model!, 'the model part holds its training');
});

test('decomposer bench --json prints one JSON line per figure, with and without the pool', () => {
  const r = cli([
    'bench',
    '--json',
    '--backends',
    'wasm',
    '--no-torch',
    '--depth',
    '8',
    '--batch',
    '8',
    '--seconds',
    '0',
    '--workers',
    '2',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const figures = jsonLines<{
    figure: string;
    backend: string;
    pool: boolean;
    workers: number;
    images_per_second: number;
  }>(r.stdout);
  // The first line: the machine and its load before measuring (1, 5 and 15 minutes).
  const machine = figures[0] as unknown as { figure: string; cores: number; load_average: number[] };
  assert.equal(machine.figure, 'machine');
  assert.ok(machine.cores >= 1);
  assert.equal(machine.load_average.length, 3);
  assert.ok(machine.load_average.every((l) => Number.isFinite(l) && l >= 0));
  for (const figure of ['inference', 'training']) {
    for (const pool of [false, true]) {
      const f = figures.find((x) => x.figure === figure && x.pool === pool);
      assert.ok(f, `${figure} pool=${pool}`);
      assert.equal(f.backend, 'wasm');
      assert.equal(f.workers, pool ? 2 : 1);
      assert.ok(f.images_per_second > 0);
    }
  }
});

test('decomposer demo --dataset runs the same pipeline on another dataset, its training cut to --per-class', async () => {
  const home = tempDir('cli');
  const r = cli([
    'demo',
    '--json',
    '--dataset',
    'textures',
    '--epochs',
    '1',
    '--depth',
    '8',
    '--per-class',
    '5',
    '--decompose-per-class',
    '5',
    '--no-reuse',
    '--home',
    home,
    '--out',
    path.join(home, 'run'),
    '--idle-seconds',
    '0',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { model: { dataset: string; classes: number }; decomposition: unknown[] };
  assert.match(j.model.dataset, /textures/);
  assert.equal(j.decomposition.length, 3, 'Table 1 on that dataset');
  // 5 images of each class, of which the validation split takes 10%.
  assert.match(r.stderr, new RegExp(`\\(${j.model.classes} classes, ${5 * j.model.classes} training images`));
});

test('decompose, evaluate and experiment reuse run from the command line on a trained model', async () => {
  const home = tempDir('cli');
  const common = ['--home', home, '--idle-seconds', '0', '--json'];
  const trained = cli([
    'demo',
    '--epochs',
    '1',
    '--depth',
    '8',
    '--per-class',
    '8',
    '--decompose-per-class',
    '0',
    '--out',
    path.join(home, 'a'),
    ...common,
  ]);
  assert.equal(trained.status, 0, trained.stderr);
  const model = path.join(home, 'a', 'model');
  const dec = cli(['decompose', '--model', model, '--per-class', '8', ...common]);
  assert.equal(dec.status, 0, dec.stderr);
  const ev = cli(['evaluate', '--model', model, ...common]);
  assert.equal(ev.status, 0, ev.stderr);
  const evj = JSON.parse(ev.stdout.trim()) as { composed: { top1: number; top5: number }; ji: number };
  assert.ok(evj.composed.top1 >= 0 && evj.composed.top5 >= evj.composed.top1);
  assert.ok(evj.ji > 0 && evj.ji <= 1);
  const reuse = [
    'experiment',
    'reuse',
    '--model',
    model,
    '--pick',
    '3',
    '--per-class',
    '8',
    '--baseline-epochs',
    '1',
  ];
  const grid = cli([...reuse, ...common]);
  assert.equal(grid.status, 0, grid.stderr);
  const g = JSON.parse(grid.stdout.trim()) as {
    rows: { kind: string; ma: number; tma: number }[];
    figure6: Record<string, unknown>;
  };
  assert.equal(g.rows.length, 3, 'three classes make three pairs');
  assert.ok(g.rows.every((r) => r.kind === 'intra' && r.ma >= 0 && r.tma >= 0));
  assert.ok('co2e_ratio_fixed' in g.figure6);
  // Run again: the grid resumes from the store instead of recomputing.
  const again = cli([...reuse, ...common]);
  assert.equal((JSON.parse(again.stdout.trim()) as { resumed: number }).resumed, 3);
  // A second model with another input size is refused with the reason.
  const big = cli([
    'demo',
    '--epochs',
    '1',
    '--depth',
    '8',
    '--per-class',
    '4',
    '--size',
    '64',
    '--decompose-per-class',
    '0',
    '--out',
    path.join(home, 'b'),
    ...common,
  ]);
  assert.equal(big.status, 0, big.stderr);
  const bad = cli([
    'experiment',
    'reuse',
    '--model',
    model,
    '--model2',
    path.join(home, 'b', 'model'),
    '--scope',
    'inter',
    ...common,
  ]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /different input sizes/);
});

test('decomposer wizard --demo --json plants the fault, runs the four options, saves one; evaluate reads it', async () => {
  const home = tempDir('cli');
  const out = path.join(home, 'wizard');
  const common = ['--home', home, '--idle-seconds', '0', '--json'];
  const r = cli([
    'wizard',
    '--demo',
    '--per-class',
    '12',
    '--epochs',
    '1',
    '--depth',
    '8',
    '--pair-epochs',
    '1',
    '--decompose-per-class',
    '6',
    '--out',
    out,
    ...common,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const w = JSON.parse(r.stdout.trim()) as {
    initial: { top1: number; top5: number; confusion: number };
    options: { option: number; top1: number; top5: number; confusion: number; co2e_lbs: number }[];
    confusion_matrix: number[][];
    test_images: number;
    victim: { index: number };
    faulty: { index: number };
    fault: { victimName: string; faultyName: string; confusion: number; cleanConfusion: number };
    recommendation: { option: number };
    saved: string;
  };
  assert.equal(w.fault.victimName, 'ring');
  assert.equal(w.fault.faultyName, 'circle');
  assert.deepEqual(
    w.options.map((o) => o.option),
    [1, 2, 3, 4],
  );
  // The initial figures are the confusion matrix's; every row counts whole test images.
  const cm = w.confusion_matrix;
  const total = cm.flat().reduce((a, b) => a + b, 0);
  const v = w.victim.index;
  const victims = cm[v]!.reduce((a, b) => a + b, 0);
  assert.equal(total, w.test_images);
  assert.equal(w.initial.top1, cm.reduce((a, row, c) => a + row[c]!, 0) / total);
  assert.equal(w.initial.confusion, cm[v]![w.faulty.index]! / victims);
  const whole = (x: number, of: number) => Math.abs(x * of - Math.round(x * of)) < 1e-9;
  for (const o of [w.initial, ...w.options])
    assert.ok(
      whole(o.top1, total) && whole(o.top5, total) && whole(o.confusion, victims) && o.top5 >= o.top1,
    );
  assert.ok(w.options.every((o) => o.co2e_lbs >= 0));
  assert.equal(path.dirname(w.saved), out);
  const ev = cli(['evaluate', '--model', w.saved, ...common]);
  assert.equal(ev.status, 0, ev.stderr);
  const e = JSON.parse(ev.stdout.trim()) as { top1: number; confusion: number; option: number };
  const chosen = w.options.find((o) => o.option === w.recommendation.option)!;
  assert.equal(e.option, w.recommendation.option);
  assert.ok(
    Math.abs(e.top1 - chosen.top1) < 1e-9,
    'the saved classifier evaluates as the wizard measured it',
  );
  assert.ok(Math.abs(e.confusion - chosen.confusion) < 1e-9);
});
