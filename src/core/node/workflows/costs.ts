// What a measured piece of work cost (time, energy, CO2e), and the arithmetic the grids' and
// the wizard's rows are made of: the cost between two readings of one run, sums, and the
// paper's ratio of a baseline's CO2e over reuse's (common/energy.ts: no ratio below a side's
// noise floor).
import { co2eRatio, crowded, floorKwh, MIXED_ATTRIBUTION } from '../../common/energy.ts';
import type { EnergyRecord } from '../energy/formula.ts';

/** What one phase cost: time and energy, and how far it can be trusted. */
export interface Cost {
  seconds: number;
  kwh: number;
  co2e_lbs: number;
  co2e_kg: number;
  source: string;
  /** How it was attributed: process, machine or mixed (absent in rows of older versions: machine). */
  attribution?: string;
  /** Its noise floor's energy, kWh: a side at or below it gives no ratio (absent in older rows). */
  floor_kwh?: number;
  /** Process attribution: the run had under a quarter of a busy machine's CPU time (common/energy.ts crowded). */
  crowded?: boolean;
}

/** Nothing measured: the cost of a step that did not run (a model given rather than trained). */
export const ZERO_COST: Cost = { seconds: 0, kwh: 0, co2e_lbs: 0, co2e_kg: 0, source: 'none' };

/** The cost between two cumulative energy readings of one run, with its noise floor over that stretch. */
export function costBetween(a: EnergyRecord | null, b: EnergyRecord): Cost {
  const seconds = b.seconds - (a?.seconds ?? 0);
  return {
    seconds,
    kwh: Math.max(0, b.kwh - (a?.kwh ?? 0)),
    co2e_lbs: Math.max(0, b.co2e_lbs - (a?.co2e_lbs ?? 0)),
    co2e_kg: Math.max(0, b.co2e_kg - (a?.co2e_kg ?? 0)),
    source: b.source,
    attribution: b.attribution,
    floor_kwh: floorKwh(b, seconds),
    crowded: crowded(b),
  };
}

/** One attribution for parts attributed alike, 'mixed' for parts attributed both ways; parts without energy do not count. */
function joinAttribution(a: Cost, b: Cost): string | undefined {
  if (a.source === 'none') return b.attribution;
  if (b.source === 'none' || (a.attribution ?? 'machine') === (b.attribution ?? 'machine'))
    return a.attribution;
  return MIXED_ATTRIBUTION;
}

/** Parts of one side added up: their noise floors add, a crowded part makes the side crowded. */
export function addCosts(...cs: Cost[]): Cost {
  return cs.reduce(
    (s, c) => ({
      seconds: s.seconds + c.seconds,
      kwh: s.kwh + c.kwh,
      co2e_lbs: s.co2e_lbs + c.co2e_lbs,
      co2e_kg: s.co2e_kg + c.co2e_kg,
      source: c.source !== 'none' ? c.source : s.source,
      attribution: joinAttribution(s, c),
      floor_kwh: (s.floor_kwh ?? 0) + (c.floor_kwh ?? 0),
      crowded: Boolean(s.crowded || c.crowded),
    }),
    ZERO_COST,
  );
}

export { co2eRatio };
