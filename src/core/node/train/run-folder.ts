// A training run folder and what a run may do in it. A run trains only into a new or empty
// folder, or into a run folder (its config.json was written by a training) to resume it: any
// other folder holds someone's files and is refused before anything is written. Inside a run
// folder the run touches only what it wrote: its checkpoints (each folder's own files, see
// fs/owned.ts), its pointers and config, and model/'s own files.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../common/errors.ts';
import { TEMP_RE, writeFileAtomic } from '../fs/atomic.ts';
import { readRegularText, TEXT_MAX } from '../fs/read.ts';
import { LOCK_FILE } from '../fs/lock.ts';
import { removeOwnedFolder } from '../fs/owned.ts';
import {
  MODEL_JSON,
  MODEL_KIND,
  saveModelDir,
  WEIGHTS_BIN,
  type ModelArtifacts,
  type ModelMeta,
} from '../models/io.ts';
import { checkpointName, CHECKPOINTS, readPointer, type CheckpointState } from './checkpoints.ts';
import { parseRunFile, RUN_CONFIG as RUN_CONFIG_SCHEMA, type RunConfig } from './run-files.ts';

export const RUN_CONFIG = 'config.json';
export const OPTIMIZER_BIN = 'optimizer.bin';
export const STATE_JSON = 'state.json';

const CHECKPOINT_RE = /^epoch-\d+$/;
/** Half-written checkpoint folders an earlier version left when killed (`.epoch-NNN.<hex>.tmp`). */
const OLD_TEMP_RE = /^\.epoch-\d+\.[0-9a-f]{12}\.(tmp|old)$/;

/**
 * A run folder's config.json, checked with its schema; null when there is none. One that
 * cannot be read or does not fit is refused, naming the file, the field and the rule.
 */
export async function readRunFolderConfig(dir: string): Promise<RunConfig | null> {
  const file = path.join(dir, RUN_CONFIG);
  let text: string;
  try {
    text = await readRegularText(file, { maxBytes: TEXT_MAX });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UserError(
      `${file} is unreadable (${(e as Error).message}).`,
      'Restore it from a backup, or train into another folder (--out); the checkpoints here are kept.',
      'bad-run',
    );
  }
  return parseRunFile(RUN_CONFIG_SCHEMA, text, file);
}

/** A run folder's config.json as written, or null when there is none or it is not a run's. */
export async function readRunConfig(dir: string): Promise<RunConfig | null> {
  return readRunFolderConfig(dir).catch(() => null);
}

/** Whether two configurations ask for the same run: the epochs and the patience only say when to stop. */
export function sameRunConfig(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const settled = (c: Record<string, unknown>) =>
    JSON.stringify(
      Object.entries(c)
        .filter(([k, x]) => k !== 'epochs' && k !== 'patience' && x !== undefined)
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
    );
  return settled(a) === settled(b);
}

/**
 * Writes what a new run asks into its folder's config.json; a folder holding a run that asked
 * for other settings (the epochs and the patience aside) is refused, as resuming it would mix
 * two trainings.
 */
export async function claimRunConfig(runDir: string, asked: Record<string, unknown>): Promise<void> {
  const prior = await readRunFolderConfig(runDir);
  if (!prior) {
    await writeFileAtomic(path.join(runDir, RUN_CONFIG), JSON.stringify(asked, null, 2));
    return;
  }
  if (!sameRunConfig(prior, asked)) {
    const a = JSON.stringify({ ...prior, epochs: undefined, patience: undefined });
    throw new UserError(
      `${runDir} holds a run with other settings (${a}).`,
      'Use another --out folder, or the same settings to resume it.',
      'run-mismatch',
    );
  }
}

/**
 * Refuses a folder a training must not write into: a file, or a non-empty folder that is not a
 * run folder. A missing or empty folder (or one holding only a lock or temporary files of a
 * run killed as it started) is a new run's.
 */
export async function checkRunFolder(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR')
      throw new UserError(
        `${dir} is a file, not a folder: nothing was written.`,
        'Train into a new or empty folder (--out DIR).',
        'not-run-folder',
      );
    throw e;
  }
  if (!entries.some((n) => n !== LOCK_FILE && !TEMP_RE.test(n))) return;
  if (await readRunConfig(dir)) return;
  throw new UserError(
    `${dir} is not empty and is not a training run folder (it has no ${RUN_CONFIG} written by a training): nothing was written into it.`,
    'Train into a new or empty folder (--out DIR), or into the folder of an earlier training to resume it.',
    'not-run-folder',
  );
}

/**
 * The files of a checkpoint folder without a record (written before folders kept one, or half
 * written by a kill): a folder of checkpoints/ is the run's own, whatever its files hold.
 */
export const legacyCheckpoint = async () => [MODEL_JSON, WEIGHTS_BIN, OPTIMIZER_BIN, STATE_JSON];

/**
 * Removes the checkpoints of `runDir` other than `keep` (folder names), and the half-written
 * ones an earlier version left: each checkpoint's own files, then its folder when empty.
 * Anything else in checkpoints/ stays.
 */
export async function pruneCheckpoints(runDir: string, keep: Set<string>): Promise<void> {
  const dir = path.join(runDir, CHECKPOINTS);
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || keep.has(e.name)) continue;
    if (CHECKPOINT_RE.test(e.name) || OLD_TEMP_RE.test(e.name))
      await removeOwnedFolder(path.join(dir, e.name), MODEL_KIND, legacyCheckpoint);
  }
}

/**
 * Writes the checkpoint of `epoch` (the model with its weights, the optimizer's state and the
 * run's state), then moves the pointers to it (best.json too when `best`) once it is complete
 * on disk, and removes the checkpoints no pointer names.
 */
export async function saveCheckpoint(
  runDir: string,
  epoch: number,
  artifacts: ModelArtifacts,
  meta: ModelMeta,
  optimizer: Uint8Array,
  state: CheckpointState,
  best: boolean,
): Promise<void> {
  const name = checkpointName(epoch);
  // A checkpoint folder no pointer names (a kill mid-write) is the run's own, whatever it holds.
  await saveModelDir(path.join(runDir, name), artifacts, meta, {
    extra: [
      { name: OPTIMIZER_BIN, data: optimizer },
      { name: STATE_JSON, data: JSON.stringify(state) },
    ],
    legacy: legacyCheckpoint,
  });
  if (best) await writeFileAtomic(path.join(runDir, 'best.json'), JSON.stringify({ epoch, dir: name }));
  await writeFileAtomic(path.join(runDir, 'latest.json'), JSON.stringify({ epoch, dir: name }));
  await pruneUnpointed(runDir);
}

/** Keeps the checkpoints the pointers name; removes older ones and half-written leftovers. */
async function pruneUnpointed(runDir: string): Promise<void> {
  const keep = new Set<string>();
  for (const p of ['latest.json', 'best.json'] as const) {
    const ptr = await readPointer(runDir, p);
    if (ptr) keep.add(path.basename(ptr));
  }
  await pruneCheckpoints(runDir, keep);
}
