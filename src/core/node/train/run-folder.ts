// A training run folder and what a run may do in it. A run trains only into a new or empty
// folder, or into a run folder (its config.json was written by a training) to resume it: any
// other folder holds someone's files and is refused before anything is written. Inside a run
// folder the run touches only what it wrote: its checkpoints (each folder's own files, see
// fs/owned.ts), its pointers and config, and model/'s own files.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../common/errors.ts';
import { v } from '../../common/schema.ts';
import { TEMP_RE } from '../fs/atomic.ts';
import { LOCK_FILE } from '../fs/lock.ts';
import { removeOwnedFolder } from '../fs/owned.ts';
import { MODEL_JSON, MODEL_KIND, WEIGHTS_BIN } from '../models/io.ts';
import { CHECKPOINTS } from './checkpoints.ts';

export const RUN_CONFIG = 'config.json';
export const OPTIMIZER_BIN = 'optimizer.bin';
export const STATE_JSON = 'state.json';

const CHECKPOINT_RE = /^epoch-\d+$/;
/** Half-written checkpoint folders an earlier version left when killed (`.epoch-NNN.<hex>.tmp`). */
const OLD_TEMP_RE = /^\.epoch-\d+\.[0-9a-f]{12}\.(tmp|old)$/;

/** What a training writes into config.json, as far as it tells a run folder from another. */
const RunConfigSchema = v.looseObject({
  datasetId: v.string(),
  classes: v.number(),
  size: v.number(),
  depth: v.number(),
  batchSize: v.number(),
  seed: v.number(),
});

/** A run folder's config.json as written, or null when there is none or it is not a run's. */
export async function readRunConfig(dir: string): Promise<Record<string, unknown> | null> {
  const file = path.join(dir, RUN_CONFIG);
  try {
    if ((await fsp.stat(file)).size > 1 << 20) return null;
    const r = v.safeParse(RunConfigSchema, JSON.parse(await fsp.readFile(file, 'utf8')));
    return r.success ? r.output : null;
  } catch {
    return null;
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
