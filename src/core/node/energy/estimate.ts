// The estimate, used when no power counter can be read (VMs and containers like CI runners,
// macOS without root, Windows). Every figure it makes is labelled "estimate".
//
//   CPU W  = TDP * (0.1 + 0.9 * load)
//            load is the machine-wide CPU utilisation (0..1) over the sampling interval, from
//            the operating system's per-core time counters (os.cpus(), which is also what
//            systeminformation's currentLoad reads). An idle package draws about a tenth of
//            its TDP; above that, power is taken as linear in the busy hardware threads, as
//            Green Algorithms and CodeCarbon scale TDP by usage. Linear is what makes the
//            estimate additive: each busy thread adds 0.9 * TDP / threads, so the runs on one
//            machine, each estimated from its own CPU seconds (`process` attribution), add up
//            to the machine's estimated dynamic power and never more.
//            TDP comes from the table below; for an unknown model 4 W per hardware thread
//            (a typical server core pair draws 8-10 W at full load).
//   DRAM W = 0.3725 W per GB installed
//            Green Algorithms (Lannelongue, Grealey, Inouye 2021, Adv. Sci. 8:2100707), the
//            figure CodeCarbon also uses (~3 W per 8 GB). It does not change with load, so
//            once the idle power is subtracted an estimated run adds no DRAM energy.
import os from 'node:os';

export const WATTS_PER_THREAD_UNKNOWN = 4;
export const DRAM_WATTS_PER_GB = 0.3725;
export const IDLE_FRACTION = 0.1;

/** Known TDPs (W), matched against the CPU model string in order. Manufacturer figures. */
export const TDP_TABLE: [RegExp, number][] = [
  [/Apple M1 (Max|Pro)/i, 30],
  [/Apple M1/i, 20],
  [/Apple M2 (Max|Pro)/i, 35],
  [/Apple M2/i, 22],
  [/Apple M3 (Max|Pro)/i, 40],
  [/Apple M3/i, 22],
  [/Apple M4/i, 25],
  [/i7-7700K/i, 91],
  [/i7-8700K?/i, 95],
  [/i9-9900K/i, 95],
  [/i9-1[234]900K/i, 125],
  [/i7-1[234]700K/i, 125],
  [/i[3579]-\d{4,5}U/i, 15],
  [/i[3579]-\d{4,5}H/i, 45],
  [/Xeon.*Platinum 8380/i, 270],
  [/Xeon.*Platinum 8480/i, 350],
  [/Xeon.*Gold 6248/i, 150],
  [/Xeon.*E5-2690 v4/i, 135],
  [/EPYC 7742/i, 225],
  [/EPYC 7763/i, 280],
  [/EPYC 9654/i, 360],
  [/EPYC 7B13/i, 240],
  [/Ryzen 9 [57]950X/i, 170],
  [/Ryzen 9 5900X/i, 105],
  [/Ryzen 7 5800X/i, 105],
  [/Ryzen 5 5600X/i, 65],
];

export interface TdpGuess {
  watts: number;
  /** 'table' when the model is known, else 'per-thread'. */
  basis: 'table' | 'per-thread';
  note: string;
}

export function tdpFor(model: string, threads: number): TdpGuess {
  for (const [re, w] of TDP_TABLE)
    if (re.test(model)) return { watts: w, basis: 'table', note: `TDP ${w} W for "${model}" (table)` };
  const w = WATTS_PER_THREAD_UNKNOWN * Math.max(1, threads);
  return {
    watts: w,
    basis: 'per-thread',
    note: `"${model}" is not in the TDP table: ${WATTS_PER_THREAD_UNKNOWN} W x ${threads} threads = ${w} W`,
  };
}

export function estimateCpuWatts(tdp: number, load: number): number {
  const l = Math.min(1, Math.max(0, load));
  return tdp * (IDLE_FRACTION + (1 - IDLE_FRACTION) * l);
}

/** One busy hardware thread's power above idle in the same model: what a run's CPU second costs. */
export function threadWatts(tdp: number, threads: number): number {
  return ((1 - IDLE_FRACTION) * tdp) / Math.max(1, threads);
}

export function estimateDramWatts(memoryBytes: number): number {
  return (memoryBytes / 1e9) * DRAM_WATTS_PER_GB;
}

export interface CpuTimes {
  busy: number;
  total: number;
}

export function cpuTimes(cpus: os.CpuInfo[] = os.cpus()): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const c of cpus) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

/** Machine-wide load between two readings of the time counters. */
export function loadBetween(a: CpuTimes, b: CpuTimes): number {
  const dt = b.total - a.total;
  return dt > 0 ? Math.min(1, Math.max(0, (b.busy - a.busy) / dt)) : 0;
}

/** Estimated CPU and DRAM joules between calls, from the load over each interval. */
export class EstimateCounter {
  readonly tdp: number;
  readonly dramW: number;
  private readonly times: () => CpuTimes;
  private last: CpuTimes;
  private lastT: number;
  /** Load over the last interval (0..1). */
  lastLoad = 0;

  constructor(tdp: number, memoryBytes: number, times: () => CpuTimes = () => cpuTimes()) {
    this.tdp = tdp;
    this.dramW = estimateDramWatts(memoryBytes);
    this.times = times;
    this.last = times();
    this.lastT = performance.now();
  }

  sample(): { cpuJ: number; dramJ: number } {
    const now = this.times();
    const t = performance.now();
    const secs = (t - this.lastT) / 1000;
    this.lastLoad = loadBetween(this.last, now);
    this.last = now;
    this.lastT = t;
    return { cpuJ: estimateCpuWatts(this.tdp, this.lastLoad) * secs, dramJ: this.dramW * secs };
  }
}
