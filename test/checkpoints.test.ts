// Resuming from a run folder whose newest checkpoint is damaged: the newest intact one is
// used, the resume says which it used and skipped, and nothing advises deleting good work.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { train, type TrainEvent } from '../src/core/node/train/trainer.ts';
import { describeResume } from '../src/core/node/train/checkpoints.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { colourDataset } from './helpers/fixtures.ts';
import { tempDir } from './helpers/temp.ts';

const data = colourDataset();
const config = { depth: 8, epochs: 2, batchSize: 16, seed: 2 };
let template: string;

// A run folder with two intact checkpoints, epoch-001 and epoch-002 (latest).
before(async () => {
  template = tempDir('ckpt');
  await train({ runDir: template, data, workers: 0, config: { ...config, epochs: 1 } });
  const first = path.join(tempDir('ckpt'), 'epoch-001');
  fs.cpSync(path.join(template, 'checkpoints', 'epoch-001'), first, { recursive: true });
  await train({ runDir: template, data, workers: 0, config });
  fs.cpSync(first, path.join(template, 'checkpoints', 'epoch-001'), { recursive: true });
});

/** A copy of the template with `damage` done to it. */
function damaged(damage: (dir: string) => void): string {
  const dir = path.join(tempDir('ckpt'), 'run');
  fs.cpSync(template, dir, { recursive: true });
  damage(dir);
  return dir;
}
const ckpt = (dir: string, epoch: number, file = '') =>
  path.join(dir, 'checkpoints', `epoch-00${epoch}`, file);

async function resume(runDir: string) {
  let start: Extract<TrainEvent, { type: 'start' }> | null = null;
  const r = await train({
    runDir,
    data,
    workers: 0,
    config: { ...config, epochs: 3 },
    onEvent: (e) => {
      if (e.type === 'start') start = e;
    },
  });
  return { r, start: start! };
}

for (const [what, damage, reason] of [
  ['state.json missing', (d: string) => fs.rmSync(ckpt(d, 2, 'state.json')), /state\.json is missing/],
  [
    'optimizer.bin missing',
    (d: string) => fs.rmSync(ckpt(d, 2, 'optimizer.bin')),
    /optimizer\.bin is missing/,
  ],
  [
    'optimizer.bin truncated',
    (d: string) => fs.truncateSync(ckpt(d, 2, 'optimizer.bin'), 100),
    /optimizer\.bin holds 100 bytes, not the \d+ of this model \(truncated\)/,
  ],
  [
    'weights.bin truncated',
    (d: string) => fs.truncateSync(ckpt(d, 2, 'weights.bin'), 10),
    /its model is unreadable/,
  ],
  [
    'state.json with a field edited',
    (d: string) => {
      const file = ckpt(d, 2, 'state.json');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"bestEpoch":\d+/, '"bestEpoch":"two"'));
    },
    /state\.json is not valid: bestEpoch: must be number \(got "two"\)/,
  ],
  [
    'state.json of another epoch',
    (d: string) => fs.copyFileSync(ckpt(d, 1, 'state.json'), ckpt(d, 2, 'state.json')),
    /does not describe epoch 2/,
  ],
] as const) {
  test(`resume with the latest checkpoint's ${what}: falls back to the one before and says so`, async () => {
    const dir = damaged(damage);
    const { r, start } = await resume(dir);
    assert.equal(r.resumedFrom, 1);
    assert.equal(r.epochsDone, 3);
    assert.deepEqual(start.resume, r.resume);
    assert.equal(r.resume.used, 'checkpoints/epoch-001');
    assert.equal(r.resume.skipped.length, 1);
    assert.equal(r.resume.skipped[0]!.checkpoint, 'checkpoints/epoch-002');
    assert.match(r.resume.skipped[0]!.reason, reason);
    assert.match(
      describeResume(r.resume)!,
      /resumed from checkpoints\/epoch-001, skipping checkpoints\/epoch-002/,
    );
  });
}

test('resume with latest.json unreadable: the newest intact checkpoint folder is used', async () => {
  const dir = damaged((d) => fs.writeFileSync(path.join(d, 'latest.json'), '{"dir": "checkpo'));
  const { r } = await resume(dir);
  assert.equal(r.resumedFrom, 2);
  assert.equal(r.resume.used, 'checkpoints/epoch-002');
  assert.match(r.resume.skipped[0]!.reason, /unreadable/);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).epoch, 3);
});

test('no intact checkpoint: refused, naming each and why, without advising to delete anything', async () => {
  const dir = damaged((d) => {
    fs.rmSync(ckpt(d, 1, 'state.json'));
    fs.rmSync(ckpt(d, 2, 'optimizer.bin'));
  });
  const before = fs.readdirSync(path.join(dir, 'checkpoints')).sort();
  await assert.rejects(resume(dir), (e: unknown) => {
    assert.ok(isUserError(e));
    assert.match(
      e.message,
      /epoch-002: optimizer\.bin is missing; checkpoints\/epoch-001: state\.json is missing/,
    );
    assert.doesNotMatch(`${e.message} ${e.hint}`, /delete/i);
    return true;
  });
  assert.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).sort(), before, 'nothing removed');
  // An unreadable config.json does not advise deleting the folder either.
  fs.writeFileSync(path.join(dir, 'config.json'), '{');
  await assert.rejects(
    resume(dir),
    (e: unknown) => isUserError(e) && !/delete/i.test(`${e.message} ${e.hint}`),
  );
});
