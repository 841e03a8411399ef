// Temporary folders for the tests: made under the system's temporary folder with a name that
// says which test made them, and removed when the test process ends (set DEC_KEEP_TEST_DIRS=1
// to keep them and look inside).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

function removeAll(): void {
  if (process.env.DEC_KEEP_TEST_DIRS) return;
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A folder a test left unwritable to this user: the system's cleaner takes it.
    }
  }
}

/** A new empty folder, dec-NAME-XXXXXX, under `parent` (default: the system's temporary folder). */
export function tempDir(name: string, parent = os.tmpdir()): string {
  if (made.length === 0) process.once('exit', removeAll);
  const dir = mkdtempSync(path.join(parent, `dec-${name}-`));
  made.push(dir);
  return dir;
}
