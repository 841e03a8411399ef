// A run's energy by the paper's formula, which figures are estimates, and the totals.
import type { JobStatus } from './jobs.ts';
import { v } from './schema.ts';

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
    kwh: number;
    co2eKg: number;
    /** Training from scratch: energy through the fixed epochs and until the best epoch. */
    fixedEpochs: { kwh: number; co2eKg: number } | null;
    untilBest: { kwh: number; co2eKg: number } | null;
  }[];
}
