// Where the app keeps its files: one data folder, with the dataset cache, downloads, and
// training runs beneath it. The shells read DECOMPOSER_HOME (or --home) and pass it in.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../common/errors.ts';

/**
 * Whether `value` holds bytes that are not UTF-8. Node decodes the environment and the
 * arguments as UTF-8 and turns each invalid byte into U+FFFD, so such a name would silently
 * become another folder. A real U+FFFD in a name is told apart by the raw bytes the process
 * was given (/proc on Linux); where they cannot be read, U+FFFD counts as a decoding loss.
 */
function lostInDecoding(value: string): boolean {
  if (!value.includes('\uFFFD')) return false;
  const own = Buffer.from(value);
  for (const src of ['/proc/self/environ', '/proc/self/cmdline']) {
    let raw: Buffer;
    try {
      raw = fs.readFileSync(src);
    } catch {
      continue;
    }
    let start = 0;
    for (let i = 0; i <= raw.length; i++) {
      if (i < raw.length && raw[i] !== 0) continue;
      const field = raw.subarray(start, i);
      const eq = field.indexOf(0x3d); // NAME=value, --home=value
      if (field.equals(own) || (eq >= 0 && field.subarray(eq + 1).equals(own))) return false;
      start = i + 1;
    }
  }
  return true;
}

/** The data folder: the one a shell was given, else ~/.decomposer. */
export function dataHome(override?: string): string {
  const given = override ?? os.homedir();
  if (lostInDecoding(given))
    throw new UserError(
      `The data folder ${JSON.stringify(given)} has a name that is not valid UTF-8 (shown with \uFFFD where bytes could not be read): Decomposer would use a different folder than the one meant.`,
      `Rename that folder to a UTF-8 name, or point ${override === undefined ? 'HOME' : 'DECOMPOSER_HOME (or --home)'} at a folder whose name is valid UTF-8.`,
      'bad-home',
    );
  return path.resolve(override ?? path.join(given, '.decomposer'));
}

export const cacheDir = (home = dataHome()) => path.join(home, 'cache');
export const downloadsDir = (home = dataHome()) => path.join(home, 'downloads');
export const runsDir = (home = dataHome()) => path.join(home, 'runs');
/** The wizard's work (better and two-class models) and the repaired classifiers it saves. */
export const wizardDir = (home = dataHome()) => path.join(home, 'wizard');
export const repairedDir = (home = dataHome()) => path.join(home, 'repaired');
