// The CO2e ratio of training from scratch over reuse, as measured by the newest finished grid
// in the store (decomposer experiment reuse|replace, or the demo).
import { existsSync } from 'node:fs';
import { v } from '../../common/schema.ts';
import { Store } from '../store/store.ts';
import type { Emit } from './figure.ts';

/** What the bench reads of a grid's scenario row: its CO2e ratios, and whether building it was estimated. */
const ScenarioRatios = v.object({
  co2e_ratio_fixed: v.nullable(v.number()),
  co2e_ratio_best: v.nullable(v.number()),
  cost: v.object({ build: v.object({ source: v.string() }) }),
});

/** Mean CO2e ratios of the newest finished grid's rows in the store, if there is one. */
function latestGridRatios(file: string) {
  if (!existsSync(file)) return null;
  const store = Store.open(file);
  try {
    const grid = store.grids.latestFinished(ScenarioRatios);
    if (!grid) return null;
    const rows = grid.scenarios;
    const mean = (xs: (number | null)[]) => {
      const ok = xs.filter((x): x is number => x !== null);
      return ok.length ? Math.round((ok.reduce((a, b) => a + b, 0) / ok.length) * 100) / 100 : null;
    };
    return {
      grid: grid.id,
      kind: grid.kind,
      scenarios: rows.length,
      co2e_ratio_fixed: mean(rows.map((r) => r.co2e_ratio_fixed)),
      co2e_ratio_best: mean(rows.map((r) => r.co2e_ratio_best)),
      estimated: rows.some((r) => r.cost.build.source === 'estimate'),
    };
  } finally {
    store.close();
  }
}

/** The `co2e_ratio` figure, where the store holds a finished grid. */
export function co2eRatioFigure(dbFile: string, emit: Emit): void {
  const ratios = latestGridRatios(dbFile);
  if (ratios) emit({ figure: 'co2e_ratio', ...ratios });
}
