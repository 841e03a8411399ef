// A run's energy by the paper's formula, which figures are estimates, and the totals.
import type { JobStatus } from './jobs.ts';
import { v } from './schema.ts';

/**
 * How a run's energy was told apart from everything else the machine did. `process` (the
 * default): the machine's dynamic power split by each run's share of busy CPU time (and of
 * each GPU), as Scaphandre and Kepler do. `machine`: the whole machine's power minus the idle
 * power measured before the run, which suits a machine that runs nothing else.
 */
export const ATTRIBUTIONS = ['process', 'machine'] as const;
export type Attribution = (typeof ATTRIBUTIONS)[number];
/** What each attribution does, in a sentence (the settings, `decomposer energy`). */
export const ATTRIBUTION_TEXT: Record<Attribution, string> = {
  process:
    "each run is charged its share of the machine's power above idle, by its share of the machine's busy CPU time (and of each GPU); with the estimate, its own CPU seconds at one busy thread's power. What else runs beside it neither inflates nor zeroes its figure.",
  machine:
    "each run is charged the whole machine's power minus the idle power measured before it: right on a machine that runs nothing else, wrong wherever other work starts or stops.",
};

/** A figure adding stretches attributed both ways (a training resumed in the other mode). */
export const MIXED_ATTRIBUTION = 'mixed';
const FIGURE_ATTRIBUTIONS = [...ATTRIBUTIONS, MIXED_ATTRIBUTION] as const;

/** Seconds of CPU time, null where they were not sampled (figures recorded before attribution). */
const cpuSeconds = v.optional(v.nullable(v.number()), null);

/**
 * A run's energy by the paper's formula, as stored with a run. `source` names what made the
 * figure ("rapl", "nvidia-smi", "powermetrics", "estimate", or a combination); "estimate…"
 * means estimated, not measured. The store reads it back with this schema.
 */
export const EnergyFigureSchema = v.object({
  source: v.string(),
  seconds: v.number(),
  /** Average CPU package power over the run minus idle (p_c), W. */
  cpu_w: v.number(),
  /** Average DRAM power minus idle (p_r), W. */
  dram_w: v.number(),
  /** Average power per GPU minus idle (p_g), W. */
  gpu_w: v.number(),
  /** g: the number of GPUs measured. */
  gpus: v.number(),
  /** The idle power subtracted (CPU + DRAM + all GPUs), W. */
  idle_w: v.number(),
  pue: v.number(),
  kwh: v.number(),
  intensity_lbs_per_kwh: v.number(),
  co2e_lbs: v.number(),
  co2e_kg: v.number(),
  /** How the figure was attributed; figures recorded before there was a choice were `machine`. */
  attribution: v.optional(v.picklist(FIGURE_ATTRIBUTIONS), 'machine'),
  /** The run's CPU time: its process's threads and its child processes (a share of it where runs share one process). */
  run_cpu_s: cpuSeconds,
  /** The machine's busy CPU time over the same time, every process's. */
  busy_cpu_s: cpuSeconds,
  /** What the machine's logical CPUs could have done over that time (CPUs x seconds). */
  capacity_cpu_s: cpuSeconds,
});

export type EnergyFigure = v.InferOutput<typeof EnergyFigureSchema>;

/**
 * Whether an energy figure is (at least partly) estimated rather than measured: no source,
 * 'none', or any '+'-joined part an estimate ("estimate+nvidia-smi", or "rapl+estimate" for a
 * resumed run whose earlier attempt was estimated).
 */
export function isEstimatedSource(source: string | null | undefined): boolean {
  return !source || source === 'none' || source.split('+').some((p) => p.startsWith('estimate'));
}

/** The run's share of the machine's busy CPU time (0..1), or null where it was not sampled. */
export function cpuShare(e: Pick<EnergyFigure, 'run_cpu_s' | 'busy_cpu_s'>): number | null {
  if (e.run_cpu_s == null || e.busy_cpu_s == null) return null;
  return e.busy_cpu_s > 0 ? Math.min(1, e.run_cpu_s / e.busy_cpu_s) : 0;
}

/** How busy the machine's CPUs were over the run (0..1), or null where it was not sampled. */
export function machineBusy(e: Pick<EnergyFigure, 'busy_cpu_s' | 'capacity_cpu_s'>): number | null {
  if (e.busy_cpu_s == null || e.capacity_cpu_s == null || !(e.capacity_cpu_s > 0)) return null;
  return Math.min(1, e.busy_cpu_s / e.capacity_cpu_s);
}

/**
 * The noise floor: a figure's average power above idle is no signal below 5% of the idle
 * power subtracted from it (in `process` attribution, of the run's share of it), and never
 * below 10 mW. The idle power is measured at another time than the run, and what else runs on
 * a working machine drifts by more than that between the two; a ratio over a side this small
 * (the demo once printed 179,153.9x over a reuse side of "0.0 W above idle 17.4 W") measures
 * the drift, not the run.
 */
export const NOISE_FLOOR_OF_IDLE = 0.05;
export const NOISE_FLOOR_MIN_W = 0.01;

type FloorFields = Pick<
  EnergyFigure,
  'attribution' | 'idle_w' | 'run_cpu_s' | 'busy_cpu_s' | 'cpu_w' | 'dram_w' | 'gpu_w' | 'gpus'
>;

/** The smallest average power (W) a figure resolves. */
export function noiseFloorW(e: FloorFields): number {
  const share = e.attribution === 'machine' ? 1 : (cpuShare(e) ?? 1);
  return Math.max(NOISE_FLOOR_MIN_W, NOISE_FLOOR_OF_IDLE * e.idle_w * share);
}

/** Whether a figure is too small to tell from the drift of what else ran (see NOISE_FLOOR_OF_IDLE). */
export const belowNoiseFloor = (e: FloorFields): boolean => figureWatts(e) < noiseFloorW(e);

/** The figure's average power: CPU + DRAM + g x GPU, W. */
export const figureWatts = (e: Pick<EnergyFigure, 'cpu_w' | 'dram_w' | 'gpu_w' | 'gpus'>): number =>
  e.cpu_w + e.dram_w + e.gpus * e.gpu_w;

/**
 * A run attributed in `process` mode that had less than a quarter of the machine's busy CPU
 * time while the machine was at least half busy: its figure is still its share, but a share of
 * a crowded machine, and it says so.
 */
export const CROWDED_SHARE = 0.25;
export const BUSY_MACHINE = 0.5;

export function crowded(
  e: Pick<EnergyFigure, 'attribution' | 'run_cpu_s' | 'busy_cpu_s' | 'capacity_cpu_s'>,
): boolean {
  if (e.attribution === 'machine') return false;
  const share = cpuShare(e);
  const busy = machineBusy(e);
  return share !== null && busy !== null && busy >= BUSY_MACHINE && share < CROWDED_SHARE;
}

/** One side of a comparison (a scenario's reuse side, its baseline), summed over its parts. */
export interface SideEnergy {
  co2e_lbs: number;
  kwh: number;
  /** What the noise floor's power gives over the side's time, kWh (absent in rows of older versions). */
  floor_kwh?: number;
}

/** Whether a side's energy stands above its noise floor (a side at zero never does). */
export const aboveFloor = (s: SideEnergy): boolean => s.kwh > 0 && s.kwh > (s.floor_kwh ?? 0);

/**
 * Baseline CO2e over reuse CO2e: null when either side is below its noise floor, where the
 * ratio would measure the machine's drift (every view flags those rows).
 */
export function co2eRatio<B extends SideEnergy, R extends SideEnergy>(baseline: B, reuse: R): number | null {
  return aboveFloor(baseline) && aboveFloor(reuse) ? baseline.co2e_lbs / reuse.co2e_lbs : null;
}

/** The energy of a figure's noise floor over `seconds` (with the figure's PUE), kWh. */
export const floorKwh = (e: FloorFields & Pick<EnergyFigure, 'pue'>, seconds: number): number =>
  (e.pue * noiseFloorW(e) * Math.max(0, seconds)) / 3.6e6;

/** How a figure was attributed, in words, for a line beside it. */
export function describeAttribution(
  e: Pick<EnergyFigure, 'attribution' | 'run_cpu_s' | 'busy_cpu_s' | 'capacity_cpu_s'>,
): string {
  const share = cpuShare(e);
  const busy = machineBusy(e);
  const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
  const seen =
    share !== null && busy !== null
      ? `; it had ${pct(share)} of the machine's busy CPU time (${(e.run_cpu_s ?? 0).toFixed(1)} CPU s), the machine was ${pct(busy)} busy`
      : '';
  if (e.attribution === 'machine') return `machine attribution (the whole machine minus idle)${seen}`;
  if (e.attribution === 'mixed')
    return `mixed attribution (stretches attributed per process and per machine)${seen}`;
  return `process attribution (its share of the machine's dynamic power)${seen}${crowded(e) ? ': CROWDED' : ''}`;
}

export interface EnergySummary {
  totals: {
    kwh: number;
    co2eKg: number;
    co2eLbs: number;
    /** Runs whose figures are estimates (no power counter). */
    estimatedRuns: number;
    runs: number;
  };
  runs: {
    runId: number;
    kind: string;
    label: string;
    status: JobStatus;
    /** Which series the run belongs to; reuse/replace scenarios add theirs later. */
    series: string;
    measured: boolean;
    source: string;
    /** How its energy was attributed (process, machine or mixed). */
    attribution: string;
    kwh: number;
    co2eKg: number;
    /** Training from scratch: energy through the fixed epochs and until the best epoch. */
    fixedEpochs: { kwh: number; co2eKg: number } | null;
    untilBest: { kwh: number; co2eKg: number } | null;
  }[];
}
