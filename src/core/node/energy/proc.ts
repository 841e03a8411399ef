// Linux CPU time from /proc (a setting-free root, injectable for tests like powercap's):
// the machine's busy and total time from /proc/stat, a process tree's time from
// /proc/<pid>/stat. All in USER_HZ ticks, which the kernel fixes at 100 per second for user
// space on every architecture Node runs on.
//
// A process's utime + stime count all its threads (the engine's worker threads included);
// cutime + cstime count its children once it has reaped them. Summed over the live tree, the
// four together are continuous: a child's time moves into its parent's cutime as it is reaped.
import path from 'node:path';
import { readSysfs, type FileReader } from './powercap.ts';
import fs from 'node:fs';

export const DEFAULT_PROC_ROOT = '/proc';
export const USER_HZ = 100;

export interface MachineTicks {
  /** user + nice + system + irq + softirq: time the CPUs spent working, every process's. */
  busy: number;
  /** busy + idle + iowait + steal: what the CPUs could have done. */
  total: number;
}

/** The first line of /proc/stat ("cpu  user nice system idle iowait irq softirq steal ..."). */
export function parseProcStat(text: string): MachineTicks | null {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  // guest time is inside user already; steal is time the hypervisor gave to other machines.
  const busy = user + nice + system + irq + softirq;
  return { busy, total: busy + idle + iowait + steal };
}

export interface ProcessTicks {
  pid: number;
  ppid: number;
  /** Start time since boot (ticks): a pid and its start time name one process. */
  start: number;
  /** utime + stime + cutime + cstime. */
  ticks: number;
}

/** One /proc/<pid>/stat line. The command name may hold spaces and parentheses: fields follow the last ')'. */
export function parsePidStat(text: string): ProcessTicks | null {
  const close = text.lastIndexOf(')');
  const pid = Number(text.slice(0, text.indexOf('(')).trim());
  if (close < 0 || !Number.isInteger(pid)) return null;
  // After ')': state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) ... starttime(22)
  const f = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const at = (field: number) => Number(f[field - 3]);
  const ticks = at(14) + at(15) + at(16) + at(17);
  const ppid = at(4);
  const start = at(22);
  if (![ticks, ppid, start].every(Number.isFinite)) return null;
  return { pid, ppid, start, ticks };
}

const key = (p: ProcessTicks) => `${p.pid}:${p.start}`;

/** Reads /proc: the machine's ticks and a process tree's. */
export class ProcReader {
  readonly root: string;
  private readonly read: FileReader;
  /** Whether /proc/<pid>/task/<tid>/children exists (kernels built without it: walk every process). */
  private childrenFiles: boolean | null = null;

  constructor(root = DEFAULT_PROC_ROOT, read: FileReader = readSysfs) {
    this.root = root;
    this.read = read;
  }

  machine(): MachineTicks | null {
    try {
      return parseProcStat(this.read(path.join(this.root, 'stat')));
    } catch {
      return null;
    }
  }

  process(pid: number): ProcessTicks | null {
    try {
      return parsePidStat(this.read(path.join(this.root, String(pid), 'stat')));
    } catch {
      return null;
    }
  }

  /** The children of `pid`, from the children file of each of its threads. */
  private childrenOf(pid: number): number[] | null {
    let tasks: string[];
    try {
      tasks = fs.readdirSync(path.join(this.root, String(pid), 'task'));
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const t of tasks) {
      let text: string;
      try {
        text = this.read(path.join(this.root, String(pid), 'task', t, 'children'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && this.childrenFiles === null) return null;
        continue; // the thread ended while we looked
      }
      this.childrenFiles = true;
      for (const c of text.trim().split(/\s+/)) if (/^\d+$/.test(c)) out.push(Number(c));
    }
    return out;
  }

  /** Every live process of the tree under `root` (itself included), keyed by pid and start time. */
  tree(root: number): Map<string, ProcessTicks> {
    const out = new Map<string, ProcessTicks>();
    const self = this.process(root);
    if (!self) return out;
    out.set(key(self), self);
    if (this.childrenFiles !== false) {
      const queue = [root];
      const seen = new Set(queue);
      while (queue.length) {
        const kids = this.childrenOf(queue.shift()!);
        if (kids === null) {
          this.childrenFiles = false;
          break;
        }
        for (const c of kids) {
          if (seen.has(c)) continue;
          seen.add(c);
          const p = this.process(c);
          if (p) out.set(key(p), p);
          queue.push(c);
        }
      }
      if (this.childrenFiles !== false) return out;
    }
    // No children files: every process's parent, from a walk of /proc.
    const all: ProcessTicks[] = [];
    let names: string[];
    try {
      names = fs.readdirSync(this.root).filter((n) => /^\d+$/.test(n));
    } catch {
      return out;
    }
    for (const n of names) {
      const p = this.process(Number(n));
      if (p) all.push(p);
    }
    const inTree = new Set([root]);
    for (let grew = true; grew;) {
      grew = false;
      for (const p of all)
        if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
          inTree.add(p.pid);
          out.set(key(p), p);
          grew = true;
        }
    }
    return out;
  }
}

/**
 * A process tree's CPU ticks between calls. A process first seen after the start counts from
 * zero (it started since); one that is gone was reaped, and where its parent is still in the
 * tree its whole time has just moved into the parent's cutime, so the part already counted is
 * taken back. A gone process reaped by a stranger (it was re-parented) keeps what it counted.
 */
export class TreeTicks {
  private prev: Map<string, ProcessTicks>;
  private readonly proc: ProcReader;
  private readonly pid: number;

  constructor(proc: ProcReader, pid: number) {
    this.proc = proc;
    this.pid = pid;
    this.prev = proc.tree(pid);
  }

  /** Whether the process itself could be read (a /proc mounted with hidepid may refuse it). */
  get readable(): boolean {
    return this.prev.size > 0;
  }

  /**
   * Ticks since the previous call (never negative), and the tree's pids now; null when the
   * process's own stat could not be read (caught mid-rewrite): the next reading covers the gap.
   */
  sample(): { ticks: number; pids: number[] } | null {
    const cur = this.proc.tree(this.pid);
    if (!cur.size) return null;
    let ticks = 0;
    for (const [k, p] of cur) ticks += p.ticks - (this.prev.get(k)?.ticks ?? 0);
    const alive = new Set([...cur.values()].map((p) => p.pid));
    for (const [k, p] of this.prev) if (!cur.has(k) && alive.has(p.ppid)) ticks -= p.ticks;
    this.prev = cur;
    return { ticks: Math.max(0, ticks), pids: [...alive] };
  }
}
