// Where the app keeps its files: one data folder, with the dataset cache, downloads, and
// training runs beneath it. The shells read DECOMPOSER_HOME (or --home) and pass it in.
import os from 'node:os';
import path from 'node:path';

/** The data folder: the one a shell was given, else ~/.decomposer. */
export function dataHome(override?: string): string {
  return path.resolve(override ?? path.join(os.homedir(), '.decomposer'));
}

export const cacheDir = (home = dataHome()) => path.join(home, 'cache');
export const downloadsDir = (home = dataHome()) => path.join(home, 'downloads');
export const runsDir = (home = dataHome()) => path.join(home, 'runs');
/** The wizard's work (better and two-class models) and the repaired classifiers it saves. */
export const wizardDir = (home = dataHome()) => path.join(home, 'wizard');
export const repairedDir = (home = dataHome()) => path.join(home, 'repaired');
