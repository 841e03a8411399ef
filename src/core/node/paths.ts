// Where the app keeps its files: one data folder (a setting; DECOMPOSER_HOME overrides),
// with the dataset cache, downloads, and training runs beneath it.
import os from 'node:os';
import path from 'node:path';

export function dataHome(override?: string): string {
  return path.resolve(override ?? process.env.DECOMPOSER_HOME ?? path.join(os.homedir(), '.decomposer'));
}

export const cacheDir = (home = dataHome()) => path.join(home, 'cache');
export const downloadsDir = (home = dataHome()) => path.join(home, 'downloads');
export const runsDir = (home = dataHome()) => path.join(home, 'runs');
/** The wizard's work (better and two-class models) and the repaired classifiers it saves. */
export const wizardDir = (home = dataHome()) => path.join(home, 'wizard');
export const repairedDir = (home = dataHome()) => path.join(home, 'repaired');
