// A folder lock: one process works in a folder at a time (a training run folder). The lock
// is a file created with O_EXCL holding its owner (pid, the process's start time, host), so
// a second process is refused with who holds it; a lock whose owner is gone (no such pid,
// or the pid now belongs to another process) is stale and taken over. Processes on another
// host cannot be checked: their lock holds until removed by hand (the message says how),
// unless it was taken by the scheduler task (Slurm array task, Indexed Job index) that this
// process is: then it is this task's earlier attempt, requeued onto another node.
import { promises as fsp } from 'node:fs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../common/errors.ts';
import { v } from '../../common/schema.ts';
import { schedulerTask } from '../energy/scheduler.ts';

export const LOCK_FILE = 'run.lock';

/** What a lock file says about its owner (the pid and host decide; the rest is for the message). */
const LOCK_OWNER = v.object({
  pid: v.number(),
  /** The process's start time (Linux), to tell a live owner from a reused pid. */
  pid_start: v.optional(v.nullable(v.string()), null),
  host: v.string(),
  started_at: v.optional(v.string(), 'an unknown time'),
  /** What the owner is doing, for the message. */
  what: v.optional(v.string(), 'working'),
  /** The scheduler's task the owner ran as (a Slurm array task, an Indexed Job's index). */
  task: v.optional(v.nullable(v.string()), null),
});

export type LockOwner = v.InferOutput<typeof LOCK_OWNER>;

export interface FolderLock {
  readonly file: string;
  release(): Promise<void>;
}

/** The start time of a process, to tell a live owner from a reused pid (Linux; null elsewhere). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22 of proc(5): starttime, in clock ticks since boot
  } catch {
    return null;
  }
}

/**
 * Whether a process on this host still runs: false when the pid is gone or now belongs to a
 * process started at another time; `unknown` when it cannot be told (no start time recorded).
 */
export function processAlive(pid: number, pidStart: string | null): boolean | 'unknown' {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStartTime(pid);
  if (pidStart && start !== null) return start === pidStart;
  return 'unknown';
}

async function readOwner(file: string): Promise<LockOwner | null> {
  try {
    const r = v.safeParse(LOCK_OWNER, JSON.parse(await fsp.readFile(file, 'utf8')));
    return r.success ? r.output : null;
  } catch {
    return null; // gone, or half-written by a process killed while creating it
  }
}

/** A lock file that is not an owner (half-written) is stale only once it is a few seconds old. */
const HALF_WRITTEN_MS = 5_000;

async function isStale(file: string, owner: LockOwner | null): Promise<boolean> {
  if (!owner) {
    try {
      return Date.now() - (await fsp.stat(file)).mtimeMs > HALF_WRITTEN_MS;
    } catch {
      return true;
    }
  }
  // Another host cannot be asked, except by the scheduler: a task runs once at a time, so
  // the same task's lock from another node is an earlier attempt (killed, or requeued).
  if (owner.host !== os.hostname()) return owner.task !== null && owner.task === schedulerTask();
  return processAlive(owner.pid, owner.pid_start) === false;
}

function lockedError(dir: string, file: string, owner: LockOwner | null): UserError {
  const who = owner
    ? `process ${owner.pid}${owner.host !== os.hostname() ? ` on ${owner.host}` : owner.pid === process.pid ? ' (this one)' : ''}, ${owner.what} since ${owner.started_at}`
    : 'a process that is starting';
  return new UserError(
    `${dir} is in use by ${who}.`,
    `Wait for it to finish or stop it, or use another folder. If that process is no longer running, delete ${file}.`,
    'folder-locked',
  );
}

/**
 * Refuses, as lockFolder would, when a live process holds `dir`; takes nothing. Lets a caller
 * refuse before it records anything (a run that never started is not a failed run).
 */
export async function refuseIfLocked(dir: string): Promise<void> {
  const file = path.join(dir, LOCK_FILE);
  const owner = await readOwner(file);
  if (!owner && !(await fsp.stat(file).catch(() => null))) return;
  if (!(await isStale(file, owner))) throw lockedError(dir, file, owner);
}

/** Locks `dir` for this process, or refuses with who holds it. */
export async function lockFolder(dir: string, what = 'training'): Promise<FolderLock> {
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const me: LockOwner = {
    pid: process.pid,
    pid_start: processStartTime(process.pid),
    host: os.hostname(),
    started_at: new Date().toISOString(),
    what,
    task: schedulerTask(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const h = await fsp.open(file, 'wx');
      try {
        await h.writeFile(JSON.stringify(me));
        await h.sync();
      } finally {
        await h.close();
      }
      let released = false;
      return {
        file,
        async release() {
          if (released) return;
          released = true;
          // Only our own lock is removed (a stale-lock takeover may have replaced it).
          const o = await readOwner(file);
          if (o && o.pid === me.pid && o.host === me.host && o.started_at === me.started_at)
            await fsp.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = await readOwner(file);
    if (!(await isStale(file, owner))) throw lockedError(dir, file, owner);
    // Stale: move it aside under a name of our own, then check it was the one judged stale
    // (another process may have replaced it meanwhile); if not, put it back.
    const aside = `${file}.stale.${process.pid}`;
    try {
      await fsp.rename(file, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = await readOwner(aside);
    if (JSON.stringify(moved) !== JSON.stringify(owner)) {
      await fsp.link(aside, file).catch(() => undefined);
    }
    await fsp.rm(aside, { force: true });
  }
  throw new UserError(
    `${dir} could not be locked: other processes keep taking it.`,
    'Run one process per folder.',
    'folder-locked',
  );
}
