// One run folder, one process: the folder lock (src/core/node/fs/lock.ts) and train() using it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCK_FILE, lockFolder, processStartTime, refuseIfLocked } from '../src/core/node/fs/lock.ts';
import { recordTrainingRun } from '../src/core/node/measure/training.ts';
import { DEFAULT_SETTINGS } from '../src/core/node/store/settings.ts';
import { Store } from '../src/core/node/store/store.ts';
import { train } from '../src/core/node/train/trainer.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { colourDataset } from './helpers/fixtures.ts';
import { startTrainChild } from './helpers/train-process.ts';
import { tempDir } from './helpers/temp.ts';

test('a locked folder refuses a second holder, naming the folder and the pid; released, it locks again', async () => {
  const dir = tempDir('lock');
  const lock = await lockFolder(dir, 'training');
  const owner = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as { pid: number };
  assert.equal(owner.pid, process.pid);
  await assert.rejects(lockFolder(dir), (e: unknown) => {
    assert.ok(isUserError(e));
    assert.equal(e.code, 'folder-locked');
    assert.ok(e.message.includes(dir), e.message);
    assert.match(e.message, new RegExp(`process ${process.pid} \\(this one\\), training since`));
    return true;
  });
  await lock.release();
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
  await (await lockFolder(dir)).release();
});

test('a stale lock (its process gone, or its pid reused) is taken over; one from another host is not', async () => {
  const dir = tempDir('lock');
  const file = path.join(dir, LOCK_FILE);
  const gone = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
  const write = (o: object) =>
    fs.writeFileSync(
      file,
      JSON.stringify({
        pid: gone,
        pid_start: null,
        host: os.hostname(),
        started_at: 'x',
        what: 'training',
        ...o,
      }),
    );
  write({});
  await (await lockFolder(dir)).release();
  // Our own pid, but started at another time: the pid was reused.
  write({ pid: process.pid, pid_start: `${processStartTime(process.pid)}1` });
  await (await lockFolder(dir)).release();
  write({ pid: 1, host: 'elsewhere' });
  await assert.rejects(lockFolder(dir), (e: unknown) => {
    assert.ok(isUserError(e));
    assert.match(e.message, /in use by process 1 on elsewhere/);
    assert.match(e.hint, /If that process is no longer running, delete .*run\.lock/);
    return true;
  });
});

test('two trainings in one run folder: the second is refused with the running pid; after a kill, it resumes', async () => {
  const runDir = tempDir('lock');
  let trained!: () => void;
  const firstEpoch = new Promise<void>((r) => (trained = r));
  const { child: c, done } = startTrainChild(runDir, 500, { onEpoch: () => trained() });
  try {
    await Promise.race([
      firstEpoch,
      done.then(() => Promise.reject(new Error('the training child exited before its first epoch'))),
    ]);
    const data = colourDataset({ train: 96 });
    const config = { depth: 8, epochs: 3, batchSize: 16, seed: 4 };
    await assert.rejects(train({ runDir, data, workers: 0, config }), (e: unknown) => {
      assert.ok(isUserError(e));
      assert.ok(e.message.includes(runDir) && e.message.includes(`process ${c.pid}`), e.message);
      return true;
    });
    c.kill('SIGKILL');
    await done;
    // The killed run's lock is stale: this one takes the folder over and resumes.
    const r = await train({ runDir, data, workers: 0, config: { ...config, epochs: 0 } });
    assert.ok(r.resumedFrom >= 1);
    assert.ok(!fs.existsSync(path.join(runDir, LOCK_FILE)), 'released at the end');
  } finally {
    c.kill('SIGKILL');
  }
});

test('a recorded training in a folder another process holds is refused before any run is recorded', async () => {
  const runDir = tempDir('lock');
  const lock = await lockFolder(runDir, 'training');
  const store = Store.open(path.join(tempDir('lock'), 'db.sqlite'));
  try {
    let worked = false;
    await assert.rejects(
      recordTrainingRun({
        store,
        settings: { ...DEFAULT_SETTINGS, idleSeconds: 0 },
        runDir,
        params: {},
        work: async () => {
          worked = true;
          throw new Error('unreachable');
        },
      }),
      (e: unknown) => isUserError(e) && e.code === 'folder-locked',
    );
    assert.equal(worked, false);
    assert.deepEqual(store.runs.list(), [], 'no failed run is left behind');
  } finally {
    store.close();
    await lock.release();
  }
  // A free folder (or a stale lock) is not refused.
  await refuseIfLocked(tempDir('lock'));
});
