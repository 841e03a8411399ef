// A child that reads a data folder as a user who cannot write it, wherever the clone is.
// Not root: the folder is made read-only while the child runs. Root writes anywhere, so the
// child becomes nobody (65534) instead; it does so itself, after loading its code as root,
// because nobody may be unable to enter the clone's folder (a 0700 temporary folder, root's
// home) and would fail to load a single file of it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from './temp.ts';

const NOBODY = 65534;
const isRoot = () => process.getuid?.() === 0;

/** The CLI run as the reader (bin/decomposer.js's `main`, loaded before becoming nobody). */
export const readerCli = path.join(import.meta.dirname, 'reader-cli.ts');

/**
 * In a child started by `asReader`: becomes nobody when it runs as root. Call it once every
 * module the child needs is loaded.
 */
export function becomeReader(): void {
  if (!process.env.DEC_AS_READER || !isRoot()) return;
  process.setgroups!([NOBODY]);
  process.setgid!(NOBODY);
  process.setuid!(NOBODY);
}

/** Whether every folder from the root down to `dir` lets others in (nobody can reach it). */
function othersCanEnter(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      if ((fs.statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (d === path.dirname(d)) return true;
  }
}

/** The temporary folder nobody can reach: the system's, else /tmp or /var/tmp. */
const readerBase = () => [os.tmpdir(), '/tmp', '/var/tmp'].find(othersCanEnter) ?? os.tmpdir();

/** A new temporary folder (dec-NAME-…) that nobody can reach. */
export function readerTmp(name: string): string {
  const dir = tempDir(name, readerBase());
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Runs `args` (a script that calls `becomeReader`, or `readerCli`) as a user who cannot write `dir`. */
export function asReader(dir: string, args: string[], env: Record<string, string> = {}) {
  const root = isRoot();
  if (!root) fs.chmodSync(dir, 0o555);
  try {
    return spawnSync(process.execPath, args, {
      encoding: 'utf8',
      // Nobody's temporary files go where nobody can write (a root's TMPDIR may be private).
      env: { ...process.env, ...(root ? { TMPDIR: readerBase() } : {}), ...env, DEC_AS_READER: '1' },
      timeout: 60_000,
    });
  } finally {
    if (!root) fs.chmodSync(dir, 0o755);
  }
}
