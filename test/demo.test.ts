// The demo's model trains as the baselines do: until its validation accuracy stops improving
// (the patience rule), at most --epochs, resuming in its run folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { makeFolder } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';
import { cli } from './helpers/cli.ts';

interface DemoJson {
  model: {
    epochs: number;
    best_epoch: number;
    max_epochs: number;
    patience: number;
    stopped_early: boolean;
    converged: boolean;
  };
  seconds: Record<string, number>;
}

test('the demo model stops at its maximum, resumes, then stops once validation accuracy stops improving', async () => {
  const home = tempDir('demo');
  // Two one-colour classes: validation accuracy is perfect after the first epoch, and can only stay.
  const colours = await makeFolder(mkdirSync(path.join(home, 'colours'), { recursive: true })!, [
    ['red', [200, 30, 30]],
    ['blue', [30, 30, 200]],
  ]);
  const out = path.join(home, 'run');
  const demo = (epochs: number) =>
    cli([
      'demo',
      '--json',
      '--dataset',
      `folder:${colours}`,
      '--depth',
      '8',
      '--per-class',
      '12',
      '--decompose-per-class',
      '0',
      '--no-reuse',
      '--epochs',
      String(epochs),
      '--patience',
      '2',
      '--home',
      home,
      '--out',
      out,
      '--idle-seconds',
      '0',
    ]);
  // The maximum stops it before its patience runs out: not converged.
  const first = demo(2);
  assert.equal(first.status, 0, first.stderr);
  const a = (JSON.parse(first.stdout) as DemoJson).model;
  assert.deepEqual(
    {
      epochs: a.epochs,
      best: a.best_epoch,
      max: a.max_epochs,
      early: a.stopped_early,
      converged: a.converged,
    },
    { epochs: 2, best: 1, max: 2, early: false, converged: false },
  );
  // A higher maximum resumes the run folder, and the patience stops it: 2 epochs without improvement.
  const second = demo(10);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /resuming after epoch 2/);
  assert.match(second.stderr, /epoch 3\/10/);
  assert.doesNotMatch(second.stderr, /epoch 4\/10/);
  const b = (JSON.parse(second.stdout) as DemoJson).model;
  assert.deepEqual(
    {
      epochs: b.epochs,
      best: b.best_epoch,
      patience: b.patience,
      early: b.stopped_early,
      converged: b.converged,
    },
    { epochs: 3, best: 1, patience: 2, early: true, converged: true },
  );
});
