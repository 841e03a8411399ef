// `process` attribution, interval by interval (the README's "Attribution" section):
//
//   counters (RAPL, powermetrics):
//     run CPU J  = max(0, package J - idle package W x dt) x share
//     run DRAM J = max(0, DRAM J - idle DRAM W x dt) x share
//     share      = the run's CPU time / the machine's busy CPU time over dt
//   the estimate:
//     run CPU J  = the run's CPU seconds x (1 - 0.1) x TDP / hardware threads
//     (one busy hardware thread's share of the dynamic part of the same TDP model; the
//     estimate's DRAM power is constant, so nothing of it is dynamic)
//   GPUs (nvidia-smi): run GPU J = max(0, GPU J - idle W per GPU x dt) x the run's share of
//     that GPU (gpu-share.ts); powermetrics' GPU, which no tool splits per process, by `share`.
//
// Shares of runs in different processes add up to at most one, so two runs at once never get
// the same watts twice; runs in one process split its CPU time (cpu-share.ts).
import type { Attribution } from '../../common/energy.ts';
import type { IdlePowers } from './formula.ts';
import { CpuShareSampler, type CpuShareOptions, type CpuInterval } from './cpu-share.ts';
import { GpuShares } from './gpu-share.ts';

/** How the machine's energy becomes the run's. */
export type AttributionBasis =
  /** A power counter: the dynamic part (above idle) split by shares. */
  | { kind: 'dynamic'; idle: IdlePowers }
  /** The estimate: the run's CPU seconds at one busy hardware thread's power (idle: the GPUs' only). */
  | { kind: 'per-thread'; threadW: number; idle: IdlePowers };

/** One interval's machine energy, as the counters read it. */
export interface MachineJoules {
  cpuJ: number;
  dramJ: number;
  /** Per measured GPU. */
  gpuJs: number[];
}

export interface RunJoules {
  cpuJ: number;
  dramJ: number;
  /** Per measured GPU. */
  gpuJs: number[];
}

const clampShare = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

/** The run's energy over one interval of `seconds`. */
export function attributeInterval(
  seconds: number,
  m: MachineJoules,
  cpu: Pick<CpuInterval, 'runS' | 'busyS'>,
  gpuShares: number[] | null,
  basis: AttributionBasis,
): RunJoules {
  const share = cpu.busyS > 0 ? clampShare(cpu.runS / cpu.busyS) : 0;
  const idle = basis.idle;
  const above = (j: number, w: number) => Math.max(0, j - w * seconds);
  const gpuJs = m.gpuJs.map(
    (j, g) => above(j, idle.gpuW) * clampShare(gpuShares ? (gpuShares[g] ?? 0) : share),
  );
  if (basis.kind === 'per-thread') return { cpuJ: cpu.runS * basis.threadW, dramJ: 0, gpuJs };
  return { cpuJ: above(m.cpuJ, idle.cpuW) * share, dramJ: above(m.dramJ, idle.dramW) * share, gpuJs };
}

/** The run's attributed energy and CPU time so far. */
export interface AttributedTotals {
  cpuJ: number;
  dramJ: number;
  gpuJ: number;
  /** GPUs the run had a share of at some point (g in the formula). */
  gpusUsed: number;
  runCpuS: number;
  busyCpuS: number;
  capacityCpuS: number;
}

export const NO_ATTRIBUTION: AttributedTotals = {
  cpuJ: 0,
  dramJ: 0,
  gpuJ: 0,
  gpusUsed: 0,
  runCpuS: 0,
  busyCpuS: 0,
  capacityCpuS: 0,
};

export interface AttributorOptions extends CpuShareOptions {
  basis: AttributionBasis;
  /** nvidia-smi and the GPUs whose power is read, when GPUs are measured. */
  nvidia?: { cmd: string; gpus: number[] } | null;
}

/** A window is split once the machine was busy this many CPU seconds over it (50 ticks: a share to about 4%)... */
export const WINDOW_BUSY_S = 0.5;
/** ... or once it is this long. */
export const WINDOW_MAX_S = 2;

interface Window {
  seconds: number;
  m: MachineJoules;
  cpu: { runS: number; busyS: number; capacityS: number };
  /** Whether a CPU reading came in it. */
  read: boolean;
}

const emptyWindow = (): Window => ({
  seconds: 0,
  m: { cpuJ: 0, dramJ: 0, gpuJs: [] },
  cpu: { runS: 0, busyS: 0, capacityS: 0 },
  read: false,
});

/** Samples a run's CPU (and GPU) shares beside the power counters and adds up its energy. */
export class Attributor {
  readonly basis: AttributionBasis;
  readonly cpu: CpuShareSampler;
  readonly gpu: GpuShares | null;
  private pids: number[] = [process.pid];
  private used: Set<number> = new Set();
  private tot: AttributedTotals = { ...NO_ATTRIBUTION };
  /** The intervals not split yet. */
  private window = emptyWindow();

  constructor(o: AttributorOptions) {
    this.basis = o.basis;
    this.cpu = new CpuShareSampler(o);
    this.pids = [o.pid ?? process.pid];
    this.gpu = o.nvidia?.gpus.length ? new GpuShares(o.nvidia.cmd, o.nvidia.gpus, () => this.pids) : null;
  }

  async start(): Promise<void> {
    await this.gpu?.start();
  }

  /** How the run's energy is attributed and where its shares come from, one line each (kept with its power sources). */
  lines(attribution: Attribution): string[] {
    const how =
      attribution === 'machine'
        ? "machine: the whole machine's power minus the idle power measured before"
        : this.basis.kind === 'per-thread'
          ? `process: the run's CPU seconds x ${this.basis.threadW.toFixed(2)} W per busy hardware thread (the estimate's dynamic power of one thread)`
          : "process: the machine's power above idle x the run's share of its busy CPU time";
    return [
      `attribution: ${how}.`,
      `attribution: CPU time from ${this.cpu.method}.`,
      ...(this.gpu ? [`attribution: GPU shares from ${this.gpu.method}.`] : []),
    ];
  }

  /**
   * Adds one interval: the machine's joules over `seconds`. Intervals gather into a window
   * until the machine has been busy WINDOW_BUSY_S CPU seconds (or WINDOW_MAX_S have passed),
   * and the window is split as one: CPU time comes in ticks of 10 ms, and a share taken over
   * a few ticks would be coarse (and, clamped to 1, biased upwards). An interval whose CPU
   * time could not be read joins the window and is covered by the next reading.
   */
  add(seconds: number, machine: MachineJoules): void {
    const c = this.cpu.sample();
    const w = this.window;
    w.seconds += seconds;
    w.m.cpuJ += machine.cpuJ;
    w.m.dramJ += machine.dramJ;
    machine.gpuJs.forEach((j, g) => (w.m.gpuJs[g] = (w.m.gpuJs[g] ?? 0) + j));
    if (c) {
      w.cpu.runS += c.runS;
      w.cpu.busyS += c.busyS;
      w.cpu.capacityS += c.capacityS;
      w.read = true;
      if (c.pids.length) this.pids = c.pids;
    }
    if (w.read && (w.cpu.busyS >= WINDOW_BUSY_S || w.seconds >= WINDOW_MAX_S)) this.settle();
  }

  /** The window's split, added to the totals of `into`. */
  private split(into: AttributedTotals, commit: boolean): AttributedTotals {
    const w = this.window;
    const shares = this.gpu?.shares() ?? null;
    const r = attributeInterval(w.seconds, w.m, w.cpu, shares, this.basis);
    if (commit)
      r.gpuJs.forEach((j, g) => {
        if (j > 0 || (shares?.[g] ?? 0) > 0) this.used.add(g);
      });
    return {
      cpuJ: into.cpuJ + r.cpuJ,
      dramJ: into.dramJ + r.dramJ,
      gpuJ: into.gpuJ + r.gpuJs.reduce((a, b) => a + b, 0),
      gpusUsed: this.used.size,
      runCpuS: into.runCpuS + w.cpu.runS,
      busyCpuS: into.busyCpuS + w.cpu.busyS,
      capacityCpuS: into.capacityCpuS + w.cpu.capacityS,
    };
  }

  private settle(): void {
    this.tot = this.split(this.tot, true);
    this.window = emptyWindow();
  }

  /** The run's energy so far, the open window's split included (split again when it closes). */
  totals(): AttributedTotals {
    return this.window.read ? this.split(this.tot, false) : { ...this.tot };
  }

  /** Splits what is left (the run ends). */
  flush(): void {
    if (this.window.read || this.window.seconds > 0) this.settle();
  }

  async close(): Promise<void> {
    this.cpu.close();
    await this.gpu?.close();
  }
}
