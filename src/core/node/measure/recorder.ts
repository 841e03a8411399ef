// Measures and records one run of any kind (train, decompose, evaluate, reuse, replace) the
// same way: detect the power sources, measure idle power, insert the run as 'running',
// sample power while it runs (heartbeat + power summary every HEARTBEAT_MS, trace file at
// every epoch and every TRACE_EVERY_MS), record cumulative energy at each epoch end, and
// finish it with its energy object (and, for training, "fixed epochs" and "until best"; a
// resumed training adds what its earlier attempts spent, see CarriedEnergy).
import { addEnergy, energyRecord, type EnergyRecord, type IdlePowers } from '../energy/formula.ts';
import { describeMachine, type MachineInfo } from '../energy/machine.ts';
import {
  averagePowers,
  detectSources,
  measureIdle,
  PowerMeter,
  TRACE_COLUMNS,
  type MeterTotals,
  type Sources,
} from '../energy/meter.ts';
import type { FileReader } from '../energy/powercap.ts';
import type { Settings } from '../store/settings.ts';
import type { RunRole } from '../../common/api.ts';
import type { EpochInput as EpochRecord } from '../store/epochs.ts';
import { HEARTBEAT_MS } from '../store/interrupted.ts';
import type { PowerSummary } from '../store/power.ts';
import type { RunKind } from '../store/run-rows.ts';
import type { Store } from '../store/store.ts';

export const TRACE_FORMAT = `f32le:${TRACE_COLUMNS.join(',')}`;
export const TRACE_EVERY_MS = 30_000;

export interface RecorderOptions {
  store: Store;
  kind: RunKind;
  params: unknown;
  label?: string;
  /** The experiment the run belongs to (none: the run is an experiment of its own). */
  experimentId?: number;
  /** Its role there (default: what its kind does) and which scenario it serves. */
  role?: RunRole;
  scenario?: string;
  settings: Settings;
  /** Progress and warnings, one line each. */
  onInfo?: (line: string) => void;
  /** Injectable for tests. */
  sources?: Sources;
  readFile?: FileReader;
  /** Skip the GPU probe (tests). */
  noGpu?: boolean;
  /**
   * Idle power measured already (a grid of runs measures it once, before its first run);
   * when given, no new idle measurement is taken.
   */
  idle?: IdlePowers;
}

/** A finished epoch as the trainer reports it (the recorder adds its energy). */
export type EpochInput = Omit<EpochRecord, 'energy'>;

export interface RunEnergy {
  energy: EnergyRecord;
  /** Training: through the last finished epoch. */
  fixedEpochs: EnergyRecord | null;
  /** Training: through the epoch of the best validation checkpoint. */
  untilBest: EnergyRecord | null;
  bestEpoch: number | null;
}

/**
 * What earlier attempts at the same training spent, for a run that resumed after epoch
 * `after`: `through(k)` is their energy through epoch k (null when nothing is known).
 */
export interface CarriedEnergy {
  after: number;
  through: (epoch: number) => EnergyRecord | null;
}

export class RunRecorder {
  readonly id: number;
  readonly store: Store;
  readonly sources: Sources;
  readonly idle: IdlePowers;
  readonly idleSeconds: number;
  readonly machine: MachineInfo;
  private readonly settings: Settings;
  private readonly meter: PowerMeter;
  private readonly timer: NodeJS.Timeout;
  private lastTrace = Date.now();
  private pending: Promise<unknown> = Promise.resolve();
  private epochs: { epoch: number; best: boolean; energy: EnergyRecord }[] = [];
  /** The meter and the run's energy at the last epoch end (see `energyNow`). */
  private mark: { totals: MeterTotals; energy: EnergyRecord } | null = null;
  private done = false;
  /** Where livePower's next read starts in the meter's trace. */
  private livePos = 0;

  private constructor(
    o: RecorderOptions,
    sources: Sources,
    idle: IdlePowers,
    machine: MachineInfo,
    meter: PowerMeter,
  ) {
    this.store = o.store;
    this.sources = sources;
    this.idle = idle;
    this.idleSeconds = o.settings.idleSeconds;
    this.machine = machine;
    this.settings = o.settings;
    this.meter = meter;
    this.id = o.store.runs.start({
      kind: o.kind,
      params: o.params,
      label: o.label,
      machine,
      experimentId: o.experimentId,
      role: o.role,
      scenario: o.scenario,
    });
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  /**
   * The idle power to subtract, measured for the settings' idleSeconds (a visible warning and
   * zero when that is 0). A series of runs measures it once and passes it to each `start`.
   */
  static async idlePowers(
    s: Settings,
    sources?: Sources,
    info: (line: string) => void = () => undefined,
  ): Promise<IdlePowers> {
    if (s.idleSeconds <= 0) {
      info(
        'warning: idle power NOT measured (--idle-seconds 0): the energy figures include the idle draw of the machine.',
      );
      return { cpuW: 0, dramW: 0, gpuW: 0 };
    }
    info(
      `energy: measuring idle power for ${s.idleSeconds} s (keep the machine quiet; --idle-seconds 0 skips it)…`,
    );
    const src = sources ?? (await detectSources({ powercapRoot: s.powercapRoot, nvidiaSmi: s.nvidiaSmi }));
    return measureIdle(src, s.idleSeconds, s.sampleIntervalMs);
  }

  static async start(o: RecorderOptions): Promise<RunRecorder> {
    const s = o.settings;
    const info = o.onInfo ?? (() => undefined);
    const sources =
      o.sources ??
      (await detectSources({
        powercapRoot: s.powercapRoot,
        nvidiaSmi: s.nvidiaSmi,
        readFile: o.readFile,
        noGpu: o.noGpu,
      }));
    const machine = await describeMachine();
    if (sources.report.cpu === 'estimate')
      info(
        `energy: ESTIMATE (no power counter readable here; \`decomposer energy\` says why). ${sources.report.estimateNote ?? ''}`,
      );
    else info(`energy: measured with ${sources.report.source}`);
    const idle = o.idle ?? (await RunRecorder.idlePowers(s, sources, info));
    const meter = new PowerMeter(sources, s.sampleIntervalMs);
    await meter.start();
    return new RunRecorder(o, sources, idle, machine, meter);
  }

  private summary(): PowerSummary {
    const t = this.meter.totals();
    const r = this.sources.report;
    return {
      source: r.source,
      sources: r.lines,
      intervalMs: this.meter.intervalMs,
      samples: t.samples,
      missed: t.missed,
      seconds: t.seconds,
      cpuJ: t.cpuJ,
      dramJ: t.dramJ,
      gpuJ: t.gpuJ,
      gpus: r.gpus,
      idleSeconds: this.idleSeconds,
      idleCpuW: this.idle.cpuW,
      idleDramW: this.idle.dramW,
      idleGpuW: this.idle.gpuW,
    };
  }

  /**
   * The run's energy so far. Idle power is subtracted per stretch between epoch ends (never
   * below zero), and the stretches add up: a run's cumulative energy never goes down from one
   * epoch to the next, even when a stretch draws less than idle or the meter's estimate of the
   * time since its last sample is corrected by the next one.
   */
  energyNow(): EnergyRecord {
    return this.energyAt(this.meter.totals());
  }

  private energyAt(t: MeterTotals): EnergyRecord {
    const m = this.mark;
    if (!m) return this.energyOf(t);
    const since = (a: number, b: number) => Math.max(0, a - b);
    const stretch = this.energyOf({
      seconds: since(t.seconds, m.totals.seconds),
      cpuJ: since(t.cpuJ, m.totals.cpuJ),
      dramJ: since(t.dramJ, m.totals.dramJ),
      gpuJ: since(t.gpuJ, m.totals.gpuJ),
      samples: t.samples,
      missed: t.missed,
    });
    return addEnergy(m.energy, stretch);
  }

  private energyOf(t: MeterTotals): EnergyRecord {
    return energyRecord(averagePowers(t, this.sources.report.gpus), this.idle, {
      source: this.sources.report.source,
      pue: this.settings.pue,
      intensity: this.settings.intensity,
    });
  }

  private beat(): void {
    if (this.done) return;
    try {
      this.store.runs.heartbeat(this.id, this.summary());
      if (Date.now() - this.lastTrace >= TRACE_EVERY_MS) this.flushTrace();
    } catch {
      // a busy database misses one heartbeat; the next one catches up
    }
  }

  private flushTrace(): void {
    this.lastTrace = Date.now();
    const rows = this.meter.trace.slice();
    const summary = this.summary();
    this.pending = this.pending
      .then(() => this.store.power.writeTrace(this.id, rows, TRACE_FORMAT, summary))
      .catch(() => undefined);
  }

  /**
   * The machine's power since the last call: the mean of the meter's own samples (as measured,
   * idle included), at the time of the newest, in seconds since the run's meter started; null
   * when no sample came since.
   */
  livePower(): { t: number; cpuW: number; dramW: number; gpuW: number } | null {
    const trace = this.meter.trace;
    const width = TRACE_COLUMNS.length;
    const rows = (trace.length - this.livePos) / width;
    if (rows < 1) return null;
    let t = 0;
    let cpu = 0;
    let dram = 0;
    let gpu = 0;
    for (let i = this.livePos; i + width <= trace.length; i += width) {
      t = trace[i]!;
      cpu += trace[i + 1]!;
      dram += trace[i + 2]!;
      gpu += trace[i + 3]!;
    }
    this.livePos = trace.length;
    return { t, cpuW: cpu / rows, dramW: dram / rows, gpuW: gpu / rows };
  }

  setBackend(backend: string, detail: string): void {
    this.store.runs.setBackend(this.id, backend, detail);
  }

  /** Records a finished epoch with the run's cumulative energy at its end. */
  epoch(e: EpochInput): EnergyRecord {
    const totals = this.meter.totals();
    const energy = this.energyAt(totals);
    this.mark = { totals, energy };
    this.epochs.push({ epoch: e.epoch, best: Boolean(e.best), energy });
    this.store.epochs.add(this.id, { ...e, energy }, this.summary());
    this.flushTrace();
    return energy;
  }

  /** Stops sampling and records how the run ended. */
  async finish(
    status: 'finished' | 'cancelled' | 'failed',
    extra: { result?: unknown; error?: string; bestEpoch?: number; carried?: CarriedEnergy } = {},
  ): Promise<RunEnergy> {
    this.done = true;
    clearInterval(this.timer);
    await this.meter.stop();
    const own = this.energyNow();
    const last = this.epochs.at(-1) ?? null;
    const bestEpoch = extra.bestEpoch ?? this.epochs.filter((x) => x.best).at(-1)?.epoch ?? null;
    const best = this.epochs.find((x) => x.epoch === bestEpoch) ?? null;
    // A resumed training: its figures include what the earlier attempts spent up to where it
    // resumed (through the best epoch, when that came before).
    const c = extra.carried;
    const base = c ? c.through(c.after) : null;
    const plus = (e: EnergyRecord | null) => (base ? (e ? addEnergy(base, e) : base) : e);
    const out: RunEnergy = {
      energy: plus(own)!,
      fixedEpochs: plus(last?.energy ?? null),
      untilBest:
        bestEpoch === null
          ? null
          : c && bestEpoch <= c.after
            ? c.through(bestEpoch)
            : plus(best?.energy ?? null),
      bestEpoch,
    };
    this.flushTrace();
    await this.pending;
    this.store.runs.finish(
      this.id,
      {
        status,
        error: extra.error,
        result: extra.result,
        energy: out.energy,
        energyFixedEpochs: out.fixedEpochs,
        energyUntilBest: out.untilBest,
        bestEpoch,
        seconds: own.seconds,
      },
      this.summary(),
    );
    return out;
  }
}
