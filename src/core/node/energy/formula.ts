// The paper's energy and CO2e formula (section 4.1.3, after Strubell et al. 2019):
//   p_t  = PUE * t * (p_c + p_r + g * p_g) / 1000      kWh, t in hours, powers in W
//   CO2e = intensity * p_t                            lbs, intensity in lbs/kWh
// p_c, p_r, p_g are the run's average CPU, DRAM and per-GPU powers: in `machine` attribution
// the machine's after the idle power measured before the run has been subtracted (never below
// zero), in `process` attribution the run's share of the power above idle (attribute.ts); g is
// the number of GPUs (the run used, in `process` attribution).

/** The paper's defaults: PUE 1.58 (Strubell et al.) and the U.S. average 0.954 lbs CO2e per kWh. */
export const DEFAULT_PUE = 1.58;
export const DEFAULT_INTENSITY_LBS_PER_KWH = 0.954;
export const KG_PER_LB = 0.45359237;

/** Which reader produced a figure. Estimates are labelled as such wherever they are shown. */
import { isEstimatedSource, type EnergyFigure } from '../../common/api.ts';
import {
  belowNoiseFloor,
  describeAttribution,
  MIXED_ATTRIBUTION,
  noiseFloorW,
  type Attribution,
} from '../../common/energy.ts';
import { formatAmount } from '../../common/numbers.ts';

export type PowerSourceName =
  | 'rapl'
  | 'nvidia-smi'
  | 'powermetrics'
  | 'estimate'
  | 'rapl+nvidia-smi'
  | 'powermetrics+nvidia-smi'
  | 'estimate+nvidia-smi'
  | 'none';

/** A run's energy, as stored, in `runs --json`, and in `demo --json` (one shape, shared with the UI). */
export type EnergyRecord = EnergyFigure;

export interface FormulaInput {
  seconds: number;
  cpuW: number;
  dramW: number;
  gpuW: number;
  gpus: number;
  pue?: number;
  intensity?: number;
}

/** p_t in kWh, exactly as the paper writes it. */
export function kwhOf(i: FormulaInput): number {
  const pue = i.pue ?? DEFAULT_PUE;
  const hours = i.seconds / 3600;
  return (pue * hours * (i.cpuW + i.dramW + i.gpus * i.gpuW)) / 1000;
}

export function co2eLbs(kwh: number, intensity = DEFAULT_INTENSITY_LBS_PER_KWH): number {
  return intensity * kwh;
}

/** Average powers of a measured interval. */
export interface MeasuredPowers {
  seconds: number;
  cpuW: number;
  dramW: number;
  /** Average per GPU. */
  gpuW: number;
  gpus: number;
}

export interface IdlePowers {
  cpuW: number;
  dramW: number;
  /** Per GPU. */
  gpuW: number;
  /** How busy the machine's CPUs were while it was measured (0..1), when known. */
  busy?: number | null;
}

export const NO_IDLE: IdlePowers = { cpuW: 0, dramW: 0, gpuW: 0 };

/** The run's and the machine's CPU time behind a figure (null where not sampled). */
export interface CpuFigures {
  runCpuS: number;
  busyCpuS: number;
  capacityCpuS: number;
}

export interface RecordOptions {
  source: string;
  pue?: number;
  intensity?: number;
  /** Default machine: the powers are the machine's, idle is subtracted here. */
  attribution?: Attribution;
  cpu?: CpuFigures | null;
}

/**
 * The paper's formula over powers that are the run's already. `idleW` is what was subtracted
 * to get them (CPU + DRAM + all GPUs).
 */
export function figureOf(
  seconds: number,
  p: { cpuW: number; dramW: number; gpuW: number; gpus: number },
  idleW: number,
  opts: RecordOptions,
): EnergyRecord {
  const pue = opts.pue ?? DEFAULT_PUE;
  const intensity = opts.intensity ?? DEFAULT_INTENSITY_LBS_PER_KWH;
  const kwh = kwhOf({ seconds, cpuW: p.cpuW, dramW: p.dramW, gpuW: p.gpuW, gpus: p.gpus, pue });
  const lbs = co2eLbs(kwh, intensity);
  return {
    source: opts.source,
    seconds,
    cpu_w: p.cpuW,
    dram_w: p.dramW,
    gpu_w: p.gpuW,
    gpus: p.gpus,
    idle_w: idleW,
    pue,
    kwh,
    intensity_lbs_per_kwh: intensity,
    co2e_lbs: lbs,
    co2e_kg: lbs * KG_PER_LB,
    attribution: opts.attribution ?? 'machine',
    run_cpu_s: opts.cpu?.runCpuS ?? null,
    busy_cpu_s: opts.cpu?.busyCpuS ?? null,
    capacity_cpu_s: opts.cpu?.capacityCpuS ?? null,
  };
}

/** `machine` attribution: subtracts idle power from the machine's (never below zero) and applies the formula. */
export function energyRecord(m: MeasuredPowers, idle: IdlePowers, opts: RecordOptions): EnergyRecord {
  const gpu = m.gpus > 0 ? Math.max(0, m.gpuW - idle.gpuW) : 0;
  return figureOf(
    m.seconds,
    {
      cpuW: Math.max(0, m.cpuW - idle.cpuW),
      dramW: Math.max(0, m.dramW - idle.dramW),
      gpuW: gpu,
      gpus: m.gpus,
    },
    idle.cpuW + idle.dramW + m.gpus * idle.gpuW,
    opts,
  );
}

/**
 * Two measured stretches of one piece of work as one record (an interrupted training and its
 * resumption): kWh, CO2e, seconds and CPU times add; the average powers are time-weighted
 * means; the source is the same or both joined with '+' (each part once), the attribution the
 * same or 'mixed'; PUE and intensity are `later`'s.
 */
export function addEnergy(earlier: EnergyRecord, later: EnergyRecord): EnergyRecord {
  const seconds = earlier.seconds + later.seconds;
  const mean = (a: number, b: number) =>
    seconds > 0 ? (a * earlier.seconds + b * later.seconds) / seconds : (a + b) / 2;
  const sum = (a: number | null, b: number | null) => (a === null || b === null ? null : a + b);
  // 'rapl' + 'estimate' is 'rapl+estimate'; a part already named is not repeated.
  const source = [...new Set([...earlier.source.split('+'), ...later.source.split('+')])].join('+');
  return {
    source,
    seconds,
    cpu_w: mean(earlier.cpu_w, later.cpu_w),
    dram_w: mean(earlier.dram_w, later.dram_w),
    gpu_w: mean(earlier.gpu_w, later.gpu_w),
    gpus: Math.max(earlier.gpus, later.gpus),
    idle_w: mean(earlier.idle_w, later.idle_w),
    pue: later.pue,
    kwh: earlier.kwh + later.kwh,
    intensity_lbs_per_kwh: later.intensity_lbs_per_kwh,
    co2e_lbs: earlier.co2e_lbs + later.co2e_lbs,
    co2e_kg: earlier.co2e_kg + later.co2e_kg,
    attribution: earlier.attribution === later.attribution ? later.attribution : MIXED_ATTRIBUTION,
    run_cpu_s: sum(earlier.run_cpu_s, later.run_cpu_s),
    busy_cpu_s: sum(earlier.busy_cpu_s, later.busy_cpu_s),
    capacity_cpu_s: sum(earlier.capacity_cpu_s, later.capacity_cpu_s),
  };
}

/** kWh and CO2e for a person: "1.12e-6 kWh, 1.07e-6 lbs (4.85e-7 kg) CO2e". */
export function energyAmounts(e: Pick<EnergyRecord, 'kwh' | 'co2e_lbs' | 'co2e_kg'>): string {
  return `${formatAmount(e.kwh)} kWh, ${formatAmount(e.co2e_lbs)} lbs (${formatAmount(e.co2e_kg)} kg) CO2e`;
}

/** One line for a person, with estimates labelled and the attribution said. */
export function describeEnergy(e: EnergyRecord): string {
  const est = isEstimatedSource(e.source) ? ' (ESTIMATE: no power counter readable)' : '';
  const w = (x: number) => `${formatAmount(x)} W`;
  const gpu = e.gpus > 0 ? ` + ${e.gpus} x GPU ${w(e.gpu_w)}` : '';
  const idle =
    e.attribution === 'machine'
      ? ` above idle ${w(e.idle_w)}`
      : e.idle_w > 0
        ? ` (idle ${w(e.idle_w)} taken off first)`
        : '';
  const floor = belowNoiseFloor(e) ? `; BELOW THE NOISE FLOOR (${w(noiseFloorW(e))})` : '';
  return (
    `${energyAmounts(e)} over ${e.seconds.toFixed(1)} s: CPU ${w(e.cpu_w)} + DRAM ${w(e.dram_w)}${gpu}` +
    `${idle}, PUE ${e.pue}; source ${e.source}${est}; ${describeAttribution(e)}${floor}`
  );
}
