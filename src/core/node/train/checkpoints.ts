// Reading a run folder's checkpoints back for a resume. A checkpoint is intact when its model
// (model.json + weights of the sizes it describes), its optimizer state (one step count and
// two moments per weight) and its state.json (the epoch it names) all read back. Resume takes
// the newest intact one: the one latest.json names, else the newest other checkpoint folder
// (the best one, since only the latest and the best are kept), and says which it used and
// which it skipped and why. A damaged checkpoint is never a reason to throw the others away,
// so no message here advises deleting a run folder.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isUserError, UserError } from '../../common/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { readRegularInto, readRegularText, regularSize, TEXT_MAX } from '../fs/read.ts';
import { readModelDir, type ModelArtifacts } from '../models/io.ts';
import {
  CHECKPOINT_NAME_RE as NAME_RE,
  CHECKPOINT_STATE,
  parseRunFile,
  POINTER,
  type CheckpointState,
} from './run-files.ts';

export type { CheckpointState };

export interface Checkpoint {
  /** Relative to the run folder: checkpoints/epoch-NNN. */
  name: string;
  artifacts: ModelArtifacts;
  optimizer: Uint8Array;
  state: CheckpointState;
}

export interface ResumeReport {
  /** The checkpoint resumed from (null: none, a fresh start). */
  used: string | null;
  skipped: { checkpoint: string; reason: string }[];
}

export const CHECKPOINTS = 'checkpoints';
/** A pointer file holds one small JSON object. */
const POINTER_MAX = 1 << 16;

export const checkpointName = (epoch: number): string =>
  `${CHECKPOINTS}/epoch-${String(epoch).padStart(3, '0')}`;

/** A pointer file (latest.json, best.json): its checkpoint name, null when absent. */
export async function readPointer(runDir: string, file: 'latest.json' | 'best.json'): Promise<string | null> {
  let text: string;
  try {
    text = await readRegularText(path.join(runDir, file), { maxBytes: POINTER_MAX });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const p = parseRunFile(POINTER, text, path.join(runDir, file));
  return `${CHECKPOINTS}/${path.basename(p.dir)}`;
}

const why = (e: unknown): string =>
  isUserError(e)
    ? e.message
    : (e as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'missing'
      : (e as Error).message;

/** Reads one checkpoint folder whole, or says what is wrong with it. */
export async function readCheckpoint(
  runDir: string,
  name: string,
): Promise<{ ok: true; checkpoint: Checkpoint } | { ok: false; reason: string }> {
  const m = NAME_RE.exec(path.basename(name));
  if (!m) return { ok: false, reason: 'not a checkpoint folder' };
  const epoch = Number(m[1]);
  const dir = path.join(runDir, name);
  let artifacts: ModelArtifacts;
  try {
    artifacts = (await readModelDir(dir)).artifacts;
  } catch (e) {
    return { ok: false, reason: `its model is unreadable (${why(e)})` };
  }
  // Adam's state: the step count, then the first and second moment of every weight.
  const expected = 4 * (1 + 2 * (artifacts.weightData.byteLength / 4));
  let optimizer: Uint8Array;
  try {
    const bytes = await regularSize(path.join(dir, 'optimizer.bin'));
    if (bytes !== expected)
      return {
        ok: false,
        reason: `optimizer.bin holds ${bytes} bytes, not the ${expected} of this model (truncated)`,
      };
    optimizer = new Uint8Array(expected);
    await readRegularInto(path.join(dir, 'optimizer.bin'), optimizer);
  } catch (e) {
    return { ok: false, reason: `optimizer.bin is ${why(e)}` };
  }
  let text: string;
  try {
    text = await readRegularText(path.join(dir, 'state.json'), { maxBytes: TEXT_MAX });
  } catch (e) {
    return {
      ok: false,
      reason: `state.json is ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable'}`,
    };
  }
  let state: CheckpointState;
  try {
    state = parseRunFile(CHECKPOINT_STATE, text, 'state.json');
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (state.epoch !== epoch || state.history.length !== epoch)
    return { ok: false, reason: `state.json does not describe epoch ${epoch} (damaged)` };
  return { ok: true, checkpoint: { name, artifacts, optimizer, state } };
}

/**
 * The newest intact checkpoint of a run folder, and what was skipped on the way. When it is
 * not the one the pointers name, they are moved to it (atomically), so the folder is
 * consistent again before training goes on.
 */
export async function findResumePoint(
  runDir: string,
): Promise<{ checkpoint: Checkpoint | null; report: ResumeReport }> {
  const skipped: ResumeReport['skipped'] = [];
  const order: string[] = [];
  let latest: string | null = null;
  try {
    latest = await readPointer(runDir, 'latest.json');
  } catch (e) {
    skipped.push({ checkpoint: 'latest.json', reason: `unreadable (${(e as Error).message})` });
  }
  if (latest) order.push(latest);
  let folders: string[] = [];
  try {
    folders = (await fsp.readdir(path.join(runDir, CHECKPOINTS))).filter((f) => NAME_RE.test(f));
  } catch {
    // no checkpoints folder: nothing trained yet
  }
  folders.sort((a, b) => Number(NAME_RE.exec(b)![1]) - Number(NAME_RE.exec(a)![1]));
  for (const f of folders) if (!order.includes(`${CHECKPOINTS}/${f}`)) order.push(`${CHECKPOINTS}/${f}`);

  for (const name of order) {
    const r = await readCheckpoint(runDir, name);
    if (!r.ok) {
      skipped.push({ checkpoint: name, reason: r.reason });
      continue;
    }
    const c = r.checkpoint;
    if (name !== latest || skipped.length) await repointTo(runDir, c);
    return { checkpoint: c, report: { used: name, skipped } };
  }
  if (order.length)
    throw new UserError(
      `No checkpoint in ${runDir} can be resumed from: ${skipped.map((s) => `${s.checkpoint}: ${s.reason}`).join('; ')}.`,
      'Train into another folder (--out) to start over; this folder is left as it is, so its checkpoints can still be restored from a backup.',
      'bad-run',
    );
  return { checkpoint: null, report: { used: null, skipped } };
}

/** Points latest.json at `c`, and best.json at its best epoch (or at `c` when that is gone). */
async function repointTo(runDir: string, c: Checkpoint): Promise<void> {
  const epoch = c.state.epoch;
  if (c.state.bestEpoch !== epoch) {
    const best = await readCheckpoint(runDir, checkpointName(c.state.bestEpoch));
    if (!best.ok) {
      const own = c.state.history.at(-1);
      c.state = { ...c.state, bestEpoch: epoch, bestVal: own?.valAccuracy ?? c.state.bestVal };
    }
  }
  await writeFileAtomic(
    path.join(runDir, 'best.json'),
    JSON.stringify({ epoch: c.state.bestEpoch, dir: checkpointName(c.state.bestEpoch) }),
  );
  await writeFileAtomic(path.join(runDir, 'latest.json'), JSON.stringify({ epoch, dir: c.name }));
}

/** One line for a person: which checkpoint a resume used and which it skipped. */
export function describeResume(r: ResumeReport): string | null {
  if (!r.skipped.length) return null;
  const skipped = r.skipped.map((s) => `${s.checkpoint} (${s.reason})`).join(', ');
  return r.used ? `resumed from ${r.used}, skipping ${skipped}` : `no checkpoint to resume from (${skipped})`;
}
