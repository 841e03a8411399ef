// A tiny reuse grid for the tests that run one through the CLI: a ResNet-8 trained one epoch by
// the demo on a few images of the embedded shapes, and the `experiment reuse` arguments of a
// grid on it (pairs of `pick` classes, baselines of `epochs` epochs).
import assert from 'node:assert/strict';
import path from 'node:path';
import { cli } from './cli.ts';

/** Records without measuring idle power first (tests need no idle figure). */
export const QUIET = ['--idle-seconds', '0'];

/** Trains the tiny model into `dir`/model, recording into `home`; returns the model folder. */
export function tinyGridModel(dir: string, home: string): string {
  const r = cli(
    [
      'demo',
      ...['--epochs', '1', '--depth', '8', '--per-class', '8', '--decompose-per-class', '0'],
      ...['--out', dir, '--json', ...QUIET],
    ],
    { home },
  );
  assert.equal(r.status, 0, r.stderr);
  return path.join(dir, 'model');
}

/** `experiment reuse` on the tiny model: `pick` classes composed pairwise, baselines of `epochs` at most. */
export const tinyGrid = (model: string, pick = 3, epochs = 1) => [
  ...['experiment', 'reuse', '--model', model, '--pick', String(pick), '--per-class', '8'],
  ...['--baseline-epochs', String(epochs)],
];

/** A command's stdout, once it exited 0 (else the test fails with its stderr). */
export function ok(r: ReturnType<typeof cli>): string {
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** A grid's scenario row as `experiment reuse --json` prints it (the fields compared). */
export interface GridRow {
  key: string;
  classes: string[];
  ma?: number;
  mma?: number;
  tma: number;
  baseline_best_epoch?: number;
  run_ids: { scenario: number | null; baseline: number | null };
}

/** What must be the same wherever a grid ran: classes, MA, MMA, TMA, the baseline's best epoch. */
export const sameRow = (r: GridRow) => ({
  key: r.key,
  classes: r.classes,
  ma: r.ma,
  mma: r.mma,
  tma: r.tma,
  epochs: r.baseline_best_epoch,
});
