// What a measured piece of work cost (time, energy, CO2e), and the arithmetic the grids' and
// the wizard's rows are made of: the cost between two readings of one run, sums, and the
// paper's ratio of a baseline's CO2e over reuse's.
import type { EnergyRecord } from '../energy/formula.ts';

/** What one phase cost: time and energy. */
export interface Cost {
  seconds: number;
  kwh: number;
  co2e_lbs: number;
  co2e_kg: number;
  source: string;
}

/** Nothing measured: the cost of a step that did not run (a model given rather than trained). */
export const ZERO_COST: Cost = { seconds: 0, kwh: 0, co2e_lbs: 0, co2e_kg: 0, source: 'none' };

/** The cost between two cumulative energy readings of one run. */
export function costBetween(a: EnergyRecord | null, b: EnergyRecord): Cost {
  return {
    seconds: b.seconds - (a?.seconds ?? 0),
    kwh: Math.max(0, b.kwh - (a?.kwh ?? 0)),
    co2e_lbs: Math.max(0, b.co2e_lbs - (a?.co2e_lbs ?? 0)),
    co2e_kg: Math.max(0, b.co2e_kg - (a?.co2e_kg ?? 0)),
    source: b.source,
  };
}

export function addCosts(...cs: Cost[]): Cost {
  return cs.reduce(
    (s, c) => ({
      seconds: s.seconds + c.seconds,
      kwh: s.kwh + c.kwh,
      co2e_lbs: s.co2e_lbs + c.co2e_lbs,
      co2e_kg: s.co2e_kg + c.co2e_kg,
      source: c.source !== 'none' ? c.source : s.source,
    }),
    ZERO_COST,
  );
}

/** Baseline CO2e over reuse CO2e; null when the reuse side measured no energy at all. */
export function co2eRatio(baseline: Cost, reuse: Cost): number | null {
  return reuse.co2e_lbs > 0 ? baseline.co2e_lbs / reuse.co2e_lbs : null;
}
