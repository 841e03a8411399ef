// What the CLI prints, and where: results on stdout (a human summary, or one JSON object
// with --json), progress on stderr in every mode, every training's epochs with an ETA (those
// inside the demo too), tables with a header row and whole class names, and one format for
// energy and CO2e figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { formatAmount } from '../src/core/common/numbers.ts';
import { SHAPE_CLASSES, TEXTURE_CLASSES } from '../src/core/node/data/synthetic.ts';
import { energyAmounts } from '../src/core/node/energy/formula.ts';
import { makeFolder } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';
import { cli } from './helpers/cli.ts';

/** The stderr lines from each "training on …" line to the next: one block per training. */
const trainings = (stderr: string) => stderr.split(/^training on /m).slice(1);

/** An amount written with three significant digits: plain from 0.001 up, else with an exponent. */
const AMOUNT = /^(0|\d\.\d\de-\d+|(0\.\d*|[1-9]\d*\.?\d*))$/;

test('train: progress on stderr with --json too, the summary on stdout; runs lists them under a header, one number format', async () => {
  const home = tempDir('out');
  const data = await makeFolder(tempDir('out-data'), [
    ['red', [200, 30, 30]],
    ['blue', [30, 30, 200]],
  ]);
  const train = (out: string, json: string[]) =>
    cli([
      'train',
      ...json,
      '--dataset',
      `folder:${data}`,
      '--size',
      '8',
      '--depth',
      '8',
      '--epochs',
      '2',
      '--batch',
      '4',
      '--idle-seconds',
      '0',
      '--home',
      home,
      '--out',
      path.join(home, out),
    ]);

  const j = train('a', ['--json']);
  assert.equal(j.status, 0, j.stderr);
  // stdout is the JSON alone (numbers stay numbers); the epochs went to stderr.
  const summary = JSON.parse(j.stdout) as { run_id: number; energy: { kwh: unknown } };
  assert.equal(typeof summary.energy.kwh, 'number');
  assert.match(j.stderr, /^epoch 1\/2: .* ETA \S+$/m);
  assert.match(j.stderr, /^epoch 2\/2: /m);

  const h = train('b', []);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /^model +ResNet-8 on .*, 2 classes, 2 epochs/m);
  assert.match(h.stdout, /^energy +\S+ kWh/m);
  assert.match(h.stdout, /^recorded as run \d+/m);
  assert.match(h.stderr, /^epoch 2\/2: /m);
  assert.doesNotMatch(h.stderr, /recorded as run|^energy /m, 'the summary is not on stderr');
  assert.doesNotMatch(h.stdout, /^epoch /m, 'progress is not on stdout');

  const list = cli(['runs', '--home', home]);
  assert.equal(list.status, 0, list.stderr);
  const [header, ...rows] = list.stdout.trimEnd().split('\n');
  assert.match(header!, /^id +kind +status +started +time +epochs +backend +kWh +CO2e lbs +source/);
  assert.equal(rows.length, 2);
  // Every kWh and CO2e figure in one format, right-aligned under its header.
  const cell = (r: string, name: string) =>
    r
      .slice(0, header!.indexOf(name) + name.length)
      .split(/ +/)
      .at(-1)!;
  for (const r of rows) for (const name of ['kWh', 'CO2e lbs']) assert.match(cell(r, name), AMOUNT, r);

  // One run's epochs: cumulative energy in the same format, never going down.
  const shown = cli(['runs', 'show', String(summary.run_id), '--home', home]);
  assert.equal(shown.status, 0, shown.stderr);
  const details = shown.stdout.split('\n').slice(2).join('\n');
  const amounts = [...details.matchAll(/(\S+) (kWh|lbs|kg)\b/g)].map((m) => m[1]!.replace(/^\(/, ''));
  assert.ok(amounts.length >= 9, shown.stdout);
  for (const x of amounts) assert.match(x, AMOUNT, shown.stdout);
  assert.doesNotMatch(shown.stdout, /\b0\.000\d/, 'below 0.001 is written with an exponent');
  const epochs = (
    JSON.parse(cli(['runs', 'show', String(summary.run_id), '--json', '--home', home]).stdout) as {
      run: { epochs: { energy: { kwh: number } }[] };
    }
  ).run.epochs.map((e) => e.energy.kwh);
  assert.equal(epochs.length, 2);
  assert.ok(epochs[1]! >= epochs[0]!, `${epochs}`);
});

test('demo: every training reports its epochs (scenario models, baselines); results on stdout as they come, class names whole', async () => {
  const home = tempDir('out');
  const r = cli([
    'demo',
    '--epochs',
    '1',
    '--depth',
    '8',
    '--per-class',
    '6',
    '--decompose-per-class',
    '6',
    '--baseline-epochs',
    '3',
    '--baseline-patience',
    '1',
    '--idle-seconds',
    '0',
    '--home',
    home,
    '--out',
    path.join(home, 'run'),
  ]);
  assert.equal(r.status, 0, r.stderr);

  // The demo model, the two scenario models, then each baseline: each one's epochs on stderr.
  const baselines = r.stderr.match(/^baseline: training /gm)?.length ?? 0;
  assert.ok(baselines >= 1, r.stderr);
  const blocks = trainings(r.stderr);
  assert.equal(blocks.length, 3 + baselines, r.stderr);
  for (const b of blocks) assert.match(b, /^epoch 1\/\d+: /m);
  // A baseline may stop early, so its ETA is a bound.
  assert.match(r.stderr, /^epoch 1\/3: .* ETA at most \S+$/m);

  // stdout: the training's summary, Table 1, then the scenarios' tables; no progress.
  const out = r.stdout;
  const at = (re: RegExp) => {
    const i = out.search(re);
    assert.ok(i >= 0, `${re} in stdout:\n${out}`);
    return i;
  };
  assert.ok(at(/^model +ResNet-8/m) < at(/^model \/ approach/m));
  assert.ok(at(/^model \/ approach/m) < at(/^Reuse \(Tables 2 and 3\)/m));
  assert.doesNotMatch(out, /^(epoch|training on|baseline:) /m);
  // Tables have a header row, and no class name is cut short.
  assert.match(out, /^kind +classes +MA +MMA +TMA +CO2e x best +x fixed$/m);
  assert.match(out, /^kind +label: replaced by +top-1/m);
  const names = [...out.matchAll(/(shapes|textures) 32x32:([a-z0-9-]+)/g)];
  assert.ok(names.length >= 6, out);
  for (const [whole, dataset, name] of names)
    assert.ok(
      (dataset === 'shapes' ? SHAPE_CLASSES : TEXTURE_CLASSES).includes(name as never),
      `"${whole}" is a class name`,
    );
});

test('one format for energy and CO2e amounts: three significant digits, an exponent below 0.001', () => {
  const cases: [number, string][] = [
    [1.12e-6, '1.12e-6'],
    [8.64e-7, '8.64e-7'],
    [0.000999, '9.99e-4'],
    [0.00099996, '0.00100'],
    [0.00112, '0.00112'],
    [12.3456, '12.3'],
    [999.96, '1000'],
    [4096, '4096'],
    [2.5e7, '2.50e7'],
    [-3.2e-5, '-3.20e-5'],
    [0, '0'],
    [Number.NaN, 'n/a'],
  ];
  for (const [x, text] of cases) assert.equal(formatAmount(x), text, String(x));
  // A record's kWh and CO2e, as every command prints them.
  assert.equal(
    energyAmounts({ kwh: 1.12e-6, co2e_lbs: 8.64e-7, co2e_kg: 3.92e-7 }),
    '1.12e-6 kWh, 8.64e-7 lbs (3.92e-7 kg) CO2e',
  );
});
