// Measures and records one run of any kind (train, decompose, evaluate, reuse, replace) the
// same way: detect the power sources, measure idle power, insert the run as 'running',
// sample power while it runs (heartbeat + power summary every HEARTBEAT_MS, trace file at
// every epoch and every TRACE_EVERY_MS), record cumulative energy at each epoch end, and
// finish it with its energy object (and, for training, "fixed epochs" and "until best"; a
// resumed training adds what its earlier attempts spent, see CarriedEnergy).
import type { AttributedTotals } from '../energy/attribute.ts';
import {
  addEnergy,
  energyRecord,
  figureOf,
  NO_IDLE,
  type EnergyRecord,
  type IdlePowers,
} from '../energy/formula.ts';
import { describeMachine, type MachineInfo } from '../energy/machine.ts';
import {
  attributorFor,
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
/** An idle measurement with the CPUs busier than this is said to be so. */
export const IDLE_BUSY_WARNING = 0.1;

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
  /** /proc, where the run's and the machine's CPU time are read (tests fake it). */
  procRoot?: string;
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

/** A `process` attribution figure from the run's attributed energy over `seconds`. */
function attributedFigure(
  seconds: number,
  r: AttributedTotals,
  idle: IdlePowers,
  estimate: boolean,
  opts: Parameters<typeof figureOf>[3],
): EnergyRecord {
  const s = seconds > 0 ? seconds : 1;
  const g = r.gpusUsed;
  // What was taken off before the split: the estimate prices CPU seconds and subtracts nothing
  // from the CPU; GPUs (and counters) lose their idle draw first.
  const idleW = (estimate ? 0 : idle.cpuW + idle.dramW) + g * idle.gpuW;
  return figureOf(
    seconds,
    { cpuW: r.cpuJ / s, dramW: r.dramJ / s, gpuW: g > 0 ? r.gpuJ / s / g : 0, gpus: g },
    idleW,
    opts,
  );
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
  /** How the run's energy is attributed, kept with its power sources. */
  private readonly attributionLines: string[];

  private constructor(
    o: RecorderOptions,
    sources: Sources,
    idle: IdlePowers,
    machine: MachineInfo,
    meter: PowerMeter,
    attributionLines: string[],
  ) {
    this.attributionLines = attributionLines;
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
   * zero when that is 0). A series of runs measures it once and passes it to each `start`. In
   * `process` attribution on the estimate nothing needs it (a run's CPU seconds are priced
   * alone), so none is measured.
   */
  static async idlePowers(
    s: Settings,
    sources?: Sources,
    info: (line: string) => void = () => undefined,
    o: { procRoot?: string } = {},
  ): Promise<IdlePowers> {
    const src = sources ?? (await detectSources({ powercapRoot: s.powercapRoot, nvidiaSmi: s.nvidiaSmi }));
    const machine = s.attribution === 'machine';
    if (!machine && src.report.cpu === 'estimate' && src.report.gpus === 0) {
      info(
        'energy: idle power not measured: process attribution on the estimate prices each run by its own CPU seconds, which needs none.',
      );
      return NO_IDLE;
    }
    if (s.idleSeconds <= 0) {
      info(
        machine
          ? 'warning: idle power NOT measured (--idle-seconds 0): the energy figures include the idle draw of the machine.'
          : "warning: idle power NOT measured (--idle-seconds 0): each run is charged its share of the machine's whole power, idle draw included.",
      );
      return NO_IDLE;
    }
    info(
      machine
        ? `energy: measuring idle power for ${s.idleSeconds} s (machine attribution: keep the machine quiet; --idle-seconds 0 skips it)…`
        : `energy: measuring idle power for ${s.idleSeconds} s (the draw no run is charged for; --idle-seconds 0 skips it)…`,
    );
    const idle = await measureIdle(src, s.idleSeconds, s.sampleIntervalMs, o);
    if (idle.busy != null && idle.busy > IDLE_BUSY_WARNING)
      info(
        `warning: the machine's CPUs were ${Math.round(idle.busy * 100)}% busy while idle power was measured: ` +
          (machine
            ? "that work's power is subtracted from every run's (machine attribution); --attribution process charges each run its own share instead."
            : 'that work counts as idle, so runs are charged a share of less than the power they drew.'),
      );
    return idle;
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
    const idle = o.idle ?? (await RunRecorder.idlePowers(s, sources, info, { procRoot: o.procRoot }));
    const attributor = attributorFor(sources.report, s.attribution, idle, {
      nvidiaSmi: s.nvidiaSmi,
      procRoot: o.procRoot,
      readFile: o.readFile,
    });
    const meter = new PowerMeter(sources, s.sampleIntervalMs, attributor);
    await meter.start();
    return new RunRecorder(o, sources, idle, machine, meter, attributor.lines(s.attribution));
  }

  private summary(): PowerSummary {
    const t = this.meter.totals();
    const r = this.sources.report;
    return {
      source: r.source,
      sources: [...r.lines, ...this.attributionLines],
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
      energy: this.energyNow(),
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
    const r = t.run;
    const mr = m.totals.run;
    const stretch = this.energyOf({
      seconds: since(t.seconds, m.totals.seconds),
      cpuJ: since(t.cpuJ, m.totals.cpuJ),
      dramJ: since(t.dramJ, m.totals.dramJ),
      gpuJ: since(t.gpuJ, m.totals.gpuJ),
      samples: t.samples,
      missed: t.missed,
      run:
        r && mr
          ? {
              cpuJ: since(r.cpuJ, mr.cpuJ),
              dramJ: since(r.dramJ, mr.dramJ),
              gpuJ: since(r.gpuJ, mr.gpuJ),
              gpusUsed: r.gpusUsed,
              runCpuS: since(r.runCpuS, mr.runCpuS),
              busyCpuS: since(r.busyCpuS, mr.busyCpuS),
              capacityCpuS: since(r.capacityCpuS, mr.capacityCpuS),
            }
          : null,
    });
    return addEnergy(m.energy, stretch);
  }

  /** One stretch's figure: the machine's power minus idle, or the run's share of it. */
  private energyOf(t: MeterTotals): EnergyRecord {
    const opts = {
      source: this.sources.report.source,
      pue: this.settings.pue,
      intensity: this.settings.intensity,
      attribution: this.settings.attribution,
      cpu: t.run,
    };
    if (this.settings.attribution === 'machine' || !t.run)
      return energyRecord(averagePowers(t, this.sources.report.gpus), this.idle, {
        ...opts,
        attribution: 'machine',
      });
    return attributedFigure(t.seconds, t.run, this.idle, this.sources.report.cpu === 'estimate', opts);
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
