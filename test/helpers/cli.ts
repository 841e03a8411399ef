// The `decomposer` command in a process of its own, as a user runs it: to its end (`cli`), or
// started and left running (`startCli`: a server to talk to, a run to watch or kill). Both
// take the data folder as `home` (DECOMPOSER_HOME) and more environment over the test's own.
import { spawn, spawnSync, type ChildProcessByStdio, type SpawnSyncReturns } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';

/** A started command: its output piped, its input closed. */
export type CliProcess = ChildProcessByStdio<null, Readable, Readable>;

/** bin/decomposer.js: the command `npm install` puts on the PATH. */
export const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'decomposer.js');

export interface CliOptions {
  /** The data folder (DECOMPOSER_HOME); without it the command sees the test's environment. */
  home?: string;
  /** More environment, over the test's own and `home`. */
  env?: Record<string, string>;
  cwd?: string;
}

/** A command's stdout as one JSON value per line (what `--json` commands such as bench print). */
export function jsonLines<T>(stdout: string): T[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

/** The environment a command runs in: the test's, the data folder, then `env`. */
export function cliEnv(o: CliOptions = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...(o.home !== undefined ? { DECOMPOSER_HOME: o.home } : {}), ...o.env };
}

/**
 * `decomposer ARGS` to its end: exit status, stdout and stderr. Killed after `timeout` ms
 * (default five minutes), so a command that hangs fails its test instead of stalling the run.
 */
export function cli(args: string[], o: CliOptions & { timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    cwd: o.cwd,
    env: cliEnv(o),
    timeout: o.timeout ?? 300_000,
  });
}

/**
 * Starts `decomposer ARGS` and hands back its process, its output piped. `nodeArgs` go to
 * Node before the command (a hook to load); `shell` runs first in a POSIX shell that then
 * becomes the command (`ulimit -n 128`: the command with few file descriptors).
 */
export function startCli(
  args: string[],
  o: CliOptions & { nodeArgs?: string[]; shell?: string } = {},
): CliProcess {
  const command = [process.execPath, ...(o.nodeArgs ?? []), BIN, ...args];
  const [file, argv] = o.shell
    ? ['sh', ['-c', `${o.shell} && exec "$0" "$@"`, ...command]]
    : [command[0]!, command.slice(1)];
  return spawn(file, argv, { cwd: o.cwd, env: cliEnv(o), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Where a started `decomposer serve` serves the app (its "served at URL" line); rejects if it exits first. */
export function servedAt(child: CliProcess): Promise<URL> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /served at (http:\S+)/.exec(out);
      if (m) resolve(new URL(m[1]!));
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${err}`)));
  });
}
