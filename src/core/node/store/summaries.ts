// Summaries over every recorded run, computed by SQLite (one query, however many runs there
// are) rather than by summing a page of rows in the API.
import type { Store } from './store.ts';

export interface EnergyTotals {
  kwh: number;
  co2eKg: number;
  co2eLbs: number;
  /** Runs whose figures are estimates (no power counter): the store's is_estimated_source rule. */
  estimatedRuns: number;
  /** Runs with an energy record. */
  runs: number;
}

/** Total energy and CO2e of every run that recorded its energy. */
export function energyTotals(store: Store): EnergyTotals {
  return store.read(() => {
    const row = store.db
      .prepare(
        `WITH e AS (
           SELECT json_extract(energy_json, '$.kwh') AS kwh,
                  json_extract(energy_json, '$.co2e_kg') AS co2e_kg,
                  json_extract(energy_json, '$.co2e_lbs') AS co2e_lbs,
                  json_extract(energy_json, '$.source') AS source
           FROM runs WHERE energy_json IS NOT NULL AND json_type(energy_json) = 'object')
         SELECT COUNT(*) AS runs,
                COALESCE(SUM(kwh), 0) AS kwh,
                COALESCE(SUM(co2e_kg), 0) AS co2e_kg,
                COALESCE(SUM(co2e_lbs), 0) AS co2e_lbs,
                COALESCE(SUM(is_estimated_source(source)), 0) AS estimated
         FROM e`,
      )
      .get() as { runs: number; kwh: number; co2e_kg: number; co2e_lbs: number; estimated: number };
    return {
      kwh: row.kwh,
      co2eKg: row.co2e_kg,
      co2eLbs: row.co2e_lbs,
      estimatedRuns: row.estimated,
      runs: row.runs,
    };
  });
}
