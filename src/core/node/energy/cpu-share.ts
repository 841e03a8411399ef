// A run's CPU time and the machine's busy CPU time between samples: what `process` attribution
// splits the machine's dynamic power by.
//
// Linux: the run's process tree from /proc (its threads, its child processes; proc.ts) and the
// machine from /proc/stat. Elsewhere (macOS, Windows), what Node offers: process.cpuUsage()
// for our own process (every thread of it, worker threads included; child processes are not
// seen) and os.cpus() for the machine.
//
// Several runs measured at once in one process (the app runs a decomposition beside a
// training) share that process's CPU time: each gets it divided by the number of runs going
// at each moment, so no CPU second is counted twice. Runs in different processes (two
// commands, two app windows, a grid's tasks) are told apart exactly.
import os from 'node:os';
import { cpuTimes } from './estimate.ts';
import type { FileReader } from './powercap.ts';
import { DEFAULT_PROC_ROOT, ProcReader, TreeTicks, USER_HZ } from './proc.ts';

/** CPU seconds over one interval. */
export interface CpuInterval {
  /** The run's. */
  runS: number;
  /** The machine's busy time, every process's. */
  busyS: number;
  /** What the machine's CPUs could have done (CPUs x seconds). */
  capacityS: number;
  /** The run's processes now (for per-process GPU use). */
  pids: number[];
}

/**
 * The runs measured in this process at each moment. Each run's weight over an interval is the
 * mean over it of 1 / (runs going), so the runs' weights add up to one at every moment.
 */
export class RunsHere {
  private readonly now: () => number;
  private readonly runs = new Map<number, { acc: number; since: number }>();
  private last = 0;
  private next = 1;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  /** Adds what each run's weight gained since the last change of the number of runs. */
  private settle(): void {
    const t = this.now();
    const n = this.runs.size;
    if (n) for (const r of this.runs.values()) r.acc += (t - this.last) / n;
    this.last = t;
  }

  enter(): number {
    this.settle();
    const id = this.next++;
    this.runs.set(id, { acc: 0, since: this.last });
    return id;
  }

  leave(id: number): void {
    this.settle();
    this.runs.delete(id);
  }

  /** The run's mean weight since the previous call (1 when it ran alone). */
  weight(id: number): number {
    this.settle();
    const r = this.runs.get(id);
    if (!r) return 0;
    const span = this.last - r.since;
    const w = span > 0 ? r.acc / span : 1 / Math.max(1, this.runs.size);
    r.acc = 0;
    r.since = this.last;
    return Math.min(1, w);
  }
}

/** The runs measured in this process (one registry per process). */
export const RUNS_HERE = new RunsHere();

export interface CpuShareOptions {
  procRoot?: string;
  readFile?: FileReader;
  /** The run's process (default this one). */
  pid?: number;
  runs?: RunsHere;
  /** Force Node's own counters (what macOS and Windows use). */
  portable?: boolean;
}

/** Samples the run's and the machine's CPU time between calls; close() when the run ends. */
export class CpuShareSampler {
  /** How the run's CPU time is read, for the run's record. */
  readonly method: string;
  private readonly runs: RunsHere;
  private readonly id: number;
  private readonly tree: TreeTicks | null;
  private readonly proc: ProcReader | null;
  private lastMachine: { busy: number; total: number } | null;
  private lastUsage: NodeJS.CpuUsage;
  private closed = false;

  constructor(o: CpuShareOptions = {}) {
    this.runs = o.runs ?? RUNS_HERE;
    const proc =
      !o.portable && (process.platform === 'linux' || o.procRoot)
        ? new ProcReader(o.procRoot ?? DEFAULT_PROC_ROOT, o.readFile)
        : null;
    const tree = proc ? new TreeTicks(proc, o.pid ?? process.pid) : null;
    const machine = proc?.machine() ?? null;
    if (proc && tree?.readable && machine) {
      this.proc = proc;
      this.tree = tree;
      this.lastMachine = machine;
      this.method = `${proc.root}: the run's process, its threads and child processes; the machine from ${proc.root}/stat`;
    } else {
      this.proc = null;
      this.tree = null;
      this.lastMachine = null;
      this.method =
        "Node's process.cpuUsage() for the run's process (all its threads; child processes not seen) and os.cpus() for the machine";
    }
    this.lastUsage = process.cpuUsage();
    if (!this.proc) this.lastMachine = portableMachine();
    this.id = this.runs.enter();
  }

  /**
   * CPU seconds since the previous reading; null when the run's or the machine's counters could
   * not be read this time (nothing is consumed: the next reading covers the gap).
   */
  sample(): CpuInterval | null {
    let runS: number;
    let pids: number[];
    let m: { busy: number; total: number } | null;
    let perTick: number;
    if (this.proc && this.tree) {
      m = this.proc.machine();
      const t = m ? this.tree.sample() : null;
      if (!m || !t) return null;
      runS = t.ticks / USER_HZ;
      pids = t.pids;
      perTick = 1 / USER_HZ;
    } else {
      const u = process.cpuUsage(this.lastUsage);
      this.lastUsage = process.cpuUsage();
      runS = (u.user + u.system) / 1e6;
      pids = [process.pid];
      m = portableMachine();
      perTick = 1 / 1000; // os.cpus() counts milliseconds
    }
    const prev = this.lastMachine ?? m;
    this.lastMachine = m;
    const busyS = Math.max(0, m.busy - prev.busy) * perTick;
    const capacityS = Math.max(0, m.total - prev.total) * perTick;
    // Not clamped to the machine's busy time here: the two are read a moment apart, and what one
    // interval shows early the next one lacks. The share over a window is clamped (attribute.ts).
    const mine = runS * (this.closed ? 0 : this.runs.weight(this.id));
    return { runS: mine, busyS, capacityS, pids };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.runs.leave(this.id);
  }
}

function portableMachine(): { busy: number; total: number } {
  return cpuTimes(os.cpus());
}

/** How busy the machine's CPUs were between construction and `fraction()` (0..1), from /proc/stat or os.cpus(). */
export class MachineBusy {
  private readonly read: () => { busy: number; total: number } | null;
  private readonly first: { busy: number; total: number } | null;

  constructor(o: Pick<CpuShareOptions, 'procRoot' | 'readFile' | 'portable'> = {}) {
    const proc =
      !o.portable && (process.platform === 'linux' || o.procRoot)
        ? new ProcReader(o.procRoot ?? DEFAULT_PROC_ROOT, o.readFile)
        : null;
    const first = proc?.machine() ?? null;
    this.read = proc && first ? () => proc.machine() : portableMachine;
    this.first = first ?? portableMachine();
  }

  fraction(): number | null {
    const now = this.read();
    if (!now || !this.first) return null;
    const total = now.total - this.first.total;
    return total > 0 ? Math.min(1, Math.max(0, (now.busy - this.first.busy) / total)) : null;
  }
}
