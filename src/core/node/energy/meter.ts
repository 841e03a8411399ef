// Power sampling during a run.
//
// Sources, in order of trust: CPU and DRAM from RAPL (Linux powercap), else from macOS
// powermetrics (sudo -n), else the estimate; GPUs from nvidia-smi when it reads power.
// Windows gets the estimate (its energy counters need a kernel driver).
//
// Where the sampler runs: on the main thread's timer (default every 100 ms, a setting). The
// engine's heavy work runs in worker threads, so the main thread is mostly waiting; and a
// late or missed tick loses nothing, because every CPU/DRAM source is cumulative (RAPL
// counters; the estimate integrates the OS's cumulative CPU time counters) and GPU power is
// integrated over the real timestamps between good readings. A worker thread would only buy
// finer trace points, at the cost of a second copy of every reader. Missed samples are
// counted and reported.
import { UserError } from '../../common/errors.ts';
import type { Attribution } from '../../common/energy.ts';
import type { IdlePowers, MeasuredPowers } from './formula.ts';
import { Attributor, type AttributedTotals, type AttributionBasis } from './attribute.ts';
import { MachineBusy } from './cpu-share.ts';
import { EstimateCounter, tdpFor, threadWatts } from './estimate.ts';
import { describeMachine } from './machine.ts';
import { NvidiaCounter, probeNvidia, type NvidiaProbe } from './nvidia.ts';
import {
  discoverRapl,
  RaplCounter,
  raplAccessHint,
  readSysfs,
  type FileReader,
  type RaplDiscovery,
} from './powercap.ts';
import { PowermetricsCounter, probePowermetrics } from './powermetrics.ts';
import { sleep } from './sleep.ts';

export { sleep };

export interface SourceOptions {
  powercapRoot: string;
  nvidiaSmi: string;
  /** Injectable for tests. */
  readFile?: FileReader;
  /** Skip the macOS powermetrics probe (it can take seconds). */
  noPowermetrics?: boolean;
  /** Skip the GPU probe. */
  noGpu?: boolean;
}

export interface SourceReport {
  /** The label every figure carries: rapl, estimate, rapl+nvidia-smi, ... */
  source: string;
  cpu: 'rapl' | 'powermetrics' | 'estimate';
  gpu: 'nvidia-smi' | 'powermetrics' | null;
  gpus: number;
  rapl: RaplDiscovery;
  nvidia: NvidiaProbe | null;
  powermetrics: { usable: boolean; problem: string | null } | null;
  /** How the estimate is made, when it is used. */
  estimateNote: string | null;
  /** The estimate's power of one busy hardware thread above idle, W (absent with a counter). */
  threadW?: number | null;
  /** One line per source: what is used and why the others are not. */
  lines: string[];
}

export interface Sources {
  report: SourceReport;
  /** Starts the counters; returns a function giving joules since its previous call. */
  open(intervalMs: number): Promise<Counter>;
}

/**
 * What samples a run's CPU (and GPU) time beside the counters: `process` attribution's shares,
 * and the CPU figures every record keeps. `idle` is subtracted before the split.
 */
export function attributorFor(
  report: SourceReport,
  attribution: Attribution,
  idle: IdlePowers,
  o: { nvidiaSmi: string; procRoot?: string; readFile?: FileReader; pid?: number },
): Attributor {
  const basis: AttributionBasis =
    report.cpu === 'estimate' && report.threadW != null
      ? { kind: 'per-thread', threadW: report.threadW, idle }
      : { kind: 'dynamic', idle };
  // Machine attribution keeps only the CPU figures: no per-process GPU readings.
  const nvidia =
    attribution === 'process' && report.gpu === 'nvidia-smi' && report.nvidia
      ? { cmd: o.nvidiaSmi, gpus: report.nvidia.measured }
      : null;
  return new Attributor({ basis, nvidia, procRoot: o.procRoot, readFile: o.readFile, pid: o.pid });
}

/** Joules since the previous sample: the machine's, and each measured GPU's. */
export interface Joules {
  cpuJ: number;
  dramJ: number;
  gpuJ: number;
  /** Per measured GPU (absent: the GPUs' joules are all in gpuJ, split like the CPU). */
  gpuJs?: number[];
}

export interface Counter {
  sample(): Promise<Joules>;
  missed(): number;
  close(): void;
  /** Longest safe interval between samples (RAPL wrap-around). */
  maxIntervalMs: number;
}

export async function detectSources(o: SourceOptions): Promise<Sources> {
  const read = o.readFile ?? readSysfs;
  const rapl = discoverRapl(o.powercapRoot, read);
  const lines: string[] = [];
  let cpu: SourceReport['cpu'] = 'estimate';
  let pm: SourceReport['powermetrics'] = null;
  if (rapl.zones.length) {
    cpu = 'rapl';
    const pk = rapl.zones.filter((z) => z.domain === 'package').map((z) => `${z.id} (${z.name})`);
    const dr = rapl.zones.filter((z) => z.domain === 'dram').map((z) => `${z.id} (${z.key})`);
    lines.push(
      `RAPL: used. Package: ${pk.join(', ')}; DRAM: ${dr.length ? dr.join(', ') : 'no DRAM zone (DRAM counted as 0 W)'}.`,
    );
    for (const p of rapl.problems) lines.push(`RAPL: warning: ${p}`);
  } else {
    lines.push(
      `RAPL: not usable: ${rapl.problems.join(' ')}${rapl.rootOnly ? ` To use it, ${raplAccessHint(o.powercapRoot)}` : ''}`,
    );
  }
  for (const s of rapl.skipped) lines.push(`RAPL: skipped ${s.id} (${s.name}): ${s.reason}.`);
  if (cpu === 'estimate') {
    if (process.platform === 'darwin' && !o.noPowermetrics) {
      pm = await probePowermetrics();
      if (pm.usable) {
        cpu = 'powermetrics';
        lines.push('powermetrics: used (sudo -n powermetrics).');
      } else lines.push(`powermetrics: not usable: ${pm.problem}`);
    } else if (process.platform === 'win32') {
      lines.push('Windows: no power counter readable without a kernel driver; CPU and DRAM are estimated.');
    } else if (process.platform !== 'darwin') {
      lines.push('powermetrics: macOS only.');
    }
  }
  let nvidia: NvidiaProbe | null = null;
  if (!o.noGpu) {
    nvidia = await probeNvidia(o.nvidiaSmi);
    if (nvidia.usable)
      lines.push(
        `nvidia-smi: used for ${nvidia.measured.length} GPU(s): ${nvidia.gpus
          .filter((g) => g.watts !== null)
          .map((g) => `${g.index} ${g.name} (${g.watts} W now)`)
          .join(', ')}.${nvidia.problem ? ` ${nvidia.problem}` : ''}`,
      );
    else lines.push(`nvidia-smi: not usable: ${nvidia.problem}`);
  }
  const machine = await describeMachine();
  let estimateNote: string | null = null;
  let tdp = 0;
  if (cpu === 'estimate') {
    const t = tdpFor(machine.cpu_model, machine.cpu_threads);
    tdp = t.watts;
    estimateNote =
      `ESTIMATE: CPU = TDP x (0.1 + 0.9 x load) with ${t.note}; ` +
      `DRAM = 0.3725 W/GB x ${(machine.memory_bytes / 1e9).toFixed(1)} GB (Green Algorithms).`;
    lines.push(`estimate: used for CPU and DRAM. ${estimateNote}`);
  }
  const gpu: SourceReport['gpu'] = nvidia?.usable
    ? 'nvidia-smi'
    : cpu === 'powermetrics'
      ? 'powermetrics'
      : null;
  const gpus = gpu === 'nvidia-smi' ? nvidia!.measured.length : gpu === 'powermetrics' ? 1 : 0;
  const report: SourceReport = {
    source: gpu === 'nvidia-smi' ? `${cpu}+nvidia-smi` : cpu,
    cpu,
    gpu,
    gpus,
    rapl,
    nvidia,
    powermetrics: pm,
    estimateNote,
    threadW: cpu === 'estimate' ? threadWatts(tdp, machine.cpu_threads) : null,
    lines,
  };
  return {
    report,
    async open(intervalMs) {
      // nvidia-smi first (a process to start): the counters' first readings, taken last, are
      // where the meter's time starts.
      const nv = gpu === 'nvidia-smi' ? new NvidiaCounter(o.nvidiaSmi, nvidia!.measured) : null;
      await nv?.start();
      // What RAPL drops as implausible joins the source lines, which every run records.
      const raplC =
        cpu === 'rapl' ? new RaplCounter(rapl.zones, read, { onNote: (l) => lines.push(l) }) : null;
      const est = cpu === 'estimate' ? new EstimateCounter(tdp, machine.memory_bytes) : null;
      const pmC = cpu === 'powermetrics' ? new PowermetricsCounter() : null;
      pmC?.start(intervalMs);
      return {
        maxIntervalMs: raplC ? raplC.maxSafeIntervalMs() : 60_000,
        async sample() {
          const nvJ = nv ? await nv.sampleEach() : [];
          const c = raplC?.sample() ?? est?.sample() ?? pmC!.sample();
          // powermetrics reads the (one, integrated) GPU with the CPU.
          const gpuJs = 'gpuJ' in c ? [c.gpuJ as number] : nvJ;
          return { cpuJ: c.cpuJ, dramJ: c.dramJ, gpuJ: gpuJs.reduce((a, b) => a + b, 0), gpuJs };
        },
        missed: () => (raplC?.missed ?? 0) + (nv?.missed ?? 0) + (pmC?.missed ?? 0),
        close: () => pmC?.close(),
      };
    },
  };
}

/** Cumulative energy of a meter at one moment. */
export interface MeterTotals {
  seconds: number;
  cpuJ: number;
  dramJ: number;
  gpuJ: number;
  samples: number;
  missed: number;
  /** The run's share of it and its CPU time (up to the last sample), when an attributor samples beside. */
  run: AttributedTotals | null;
}

export function averagePowers(t: MeterTotals, gpus: number): MeasuredPowers {
  const s = t.seconds > 0 ? t.seconds : 1;
  return {
    seconds: t.seconds,
    cpuW: t.cpuJ / s,
    dramW: t.dramJ / s,
    gpuW: gpus > 0 ? t.gpuJ / s / gpus : 0,
    gpus,
  };
}

/** Trace columns, one row per sample: seconds since start and the average powers since the previous sample. */
export const TRACE_COLUMNS = ['t_s', 'cpu_w', 'dram_w', 'gpu_w'] as const;

/** Samples a set of sources on a timer and integrates their energy. */
export class PowerMeter {
  readonly intervalMs: number;
  private readonly sources: Sources;
  private counter: Counter | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private t0 = 0;
  private lastT = 0;
  private lastRate = { cpu: 0, dram: 0, gpu: 0 };
  private tot = { cpuJ: 0, dramJ: 0, gpuJ: 0, samples: 0, skipped: 0 };
  /** Flat trace: TRACE_COLUMNS per row. */
  readonly trace: number[] = [];
  private final: MeterTotals | null = null;
  private readonly attributor: Attributor | null;

  constructor(sources: Sources, intervalMs = 100, attributor: Attributor | null = null) {
    this.sources = sources;
    this.intervalMs = intervalMs;
    this.attributor = attributor;
  }

  async start(): Promise<void> {
    // The GPU shares' first reading (a process to start) before the counters' first readings,
    // so that the meter's time starts where their energy does.
    await this.attributor?.start();
    this.counter = await this.sources.open(this.intervalMs);
    const every = Math.max(10, Math.min(this.intervalMs, this.counter.maxIntervalMs));
    this.t0 = this.lastT = performance.now();
    this.timer = setInterval(() => {
      if (this.inFlight) {
        this.tot.skipped++; // the previous reading is still running: this tick is missed
        return;
      }
      this.inFlight = this.tick().finally(() => (this.inFlight = null));
    }, every);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (!this.counter) return;
    let r;
    try {
      r = await this.counter.sample();
    } catch {
      this.tot.skipped++;
      return;
    }
    const t = performance.now();
    const dt = (t - this.lastT) / 1000;
    this.lastT = t;
    this.tot.cpuJ += r.cpuJ;
    this.tot.dramJ += r.dramJ;
    this.tot.gpuJ += r.gpuJ;
    this.tot.samples++;
    this.attributor?.add(dt, { ...r, gpuJs: r.gpuJs ?? (r.gpuJ > 0 ? [r.gpuJ] : []) });
    if (dt > 0) {
      this.lastRate = { cpu: r.cpuJ / dt, dram: r.dramJ / dt, gpu: r.gpuJ / dt };
      this.trace.push((t - this.t0) / 1000, this.lastRate.cpu, this.lastRate.dram, this.lastRate.gpu);
    }
  }

  /** Energy so far; the time since the last sample is filled at the last sample's power. */
  totals(): MeterTotals {
    if (this.final) return this.final;
    const now = performance.now();
    const gap = Math.max(0, (now - this.lastT) / 1000);
    return {
      seconds: (now - this.t0) / 1000,
      cpuJ: this.tot.cpuJ + this.lastRate.cpu * gap,
      dramJ: this.tot.dramJ + this.lastRate.dram * gap,
      gpuJ: this.tot.gpuJ + this.lastRate.gpu * gap,
      samples: this.tot.samples,
      missed: this.tot.skipped + (this.counter?.missed() ?? 0),
      run: this.attributor?.totals() ?? null,
    };
  }

  /** Takes a last sample and stops. */
  async stop(): Promise<MeterTotals> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
    await this.tick();
    this.attributor?.flush();
    const t = this.totals();
    this.final = t;
    this.counter?.close();
    this.counter = null;
    await this.attributor?.close();
    return t;
  }
}

/** Average powers with nothing running, for `seconds` (the paper subtracts them). */
export async function measureIdle(
  sources: Sources,
  seconds: number,
  intervalMs = 100,
  o: { procRoot?: string } = {},
): Promise<IdlePowers> {
  if (seconds <= 0) return { cpuW: 0, dramW: 0, gpuW: 0 };
  const m = new PowerMeter(sources, intervalMs);
  await m.start();
  const busy = new MachineBusy({ procRoot: o.procRoot });
  await sleep(seconds * 1000);
  const t = await m.stop();
  const machineBusy = busy.fraction();
  const a = averagePowers(t, sources.report.gpus);
  if (!Number.isFinite(a.cpuW))
    throw new UserError(
      'The idle power could not be measured.',
      'Run again with --idle-seconds 0.',
      'energy',
    );
  return { cpuW: a.cpuW, dramW: a.dramW, gpuW: a.gpuW, busy: machineBusy };
}
