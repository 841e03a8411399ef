// scripts/profile_training.ts: onnxruntime's per-operator profile of training steps, grouped as
// the comparison with PyTorch groups it (the PyTorch side needs python3-torch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { tempDir } from './helpers/temp.ts';

test('the training profile prints ms per step per operator group from onnxruntime’s own profiler', () => {
  const script = path.join(import.meta.dirname, '..', 'scripts', 'profile_training.ts');
  const out = tempDir('profile');
  const r = spawnSync(
    process.execPath,
    [
      script,
      '--depth',
      '8',
      '--size',
      '16',
      '--batch',
      '8',
      '--steps',
      '2',
      '--warm',
      '1',
      '--out',
      out,
      '--json',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    load: number;
    groups: { group: string; ours_ms: number; torch_ms: number | null }[];
  };
  assert.equal(typeof j.load, 'number');
  const ms = new Map(j.groups.map((g) => [g.group, g.ours_ms]));
  assert.ok(ms.get('convolution (forward and backward)')! > 0, r.stdout);
  assert.ok(ms.get('optimizer (Adam)')! > 0, r.stdout);
  assert.ok(j.groups.every((g) => g.torch_ms === null));
});
