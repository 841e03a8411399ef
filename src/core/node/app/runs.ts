// Recorded runs, the experiments they belong to, and the energy totals.
import {
  isEstimatedSource,
  type DecomposerApi,
  type EnergyFigure,
  type EnergySummary,
  type ExperimentDetailView,
  type ExperimentSummary,
  type RunDetailView,
  type RunSummary,
} from '../../common/api.ts';
import { UserError } from '../../common/errors.ts';
import { machinesOfRuns, scenarioView, toExperimentSummary, toRunSummary } from '../views.ts';
import type { ScenarioRow } from '../workflows/grid.ts';
import { guard, type AppContext } from './context.ts';

/** How many of the latest runs the Energy page lists one by one (its totals count every run). */
const ENERGY_LIST_RUNS = 500;

export function runsHandlers(
  ctx: AppContext,
): Pick<DecomposerApi, 'listRuns' | 'listExperiments' | 'getExperiment' | 'getRun' | 'getEnergySummary'> {
  return {
    async listRuns(): Promise<RunSummary[]> {
      return ctx.db().runs.list({ limit: 200 }).map(toRunSummary);
    },

    async listExperiments(): Promise<ExperimentSummary[]> {
      return ctx.db().experiments.list({ limit: 200 }).map(toExperimentSummary);
    },

    async getExperiment(id: number): Promise<ExperimentDetailView> {
      guard('getExperiment', [id]);
      const e = ctx.db().experiments.get(id);
      if (!e)
        throw new UserError(`There is no experiment ${id}.`, 'Choose one from the list.', 'no-experiment');
      return {
        ...toExperimentSummary(e),
        params: e.params,
        runs: e.run_list.map(toRunSummary),
        scenarios: e.scenarios.map((x) => scenarioView(x.row as ScenarioRow)),
        machines: machinesOfRuns(e.run_list),
      };
    },

    async getRun(id: number): Promise<RunDetailView> {
      guard('getRun', [id]);
      const s = ctx.db();
      const r = s.runs.get(id);
      if (!r) throw new UserError(`There is no run ${id}.`, 'Choose a run from the list.', 'no-run');
      const trace = s.power.readTrace(id);
      const power: RunDetailView['power'] = [];
      if (trace) {
        const step = Math.max(1, Math.ceil(trace.rows.length / 500));
        for (let i = 0; i < trace.rows.length; i += step) {
          const [t, cpu, dram, gpu] = trace.rows[i]!;
          power.push({ t: t ?? 0, cpuW: cpu ?? 0, dramW: dram ?? 0, gpuW: gpu ?? 0 });
        }
      }
      return {
        ...toRunSummary(r),
        epochs: r.epochs.map((e) => ({
          epoch: e.epoch,
          loss: e.loss,
          accuracy: e.accuracy,
          valAccuracy: e.val_accuracy,
          seconds: e.seconds,
          best: e.best,
        })),
        power,
        powerSources: r.power?.sources ?? [],
        continuedBy: r.kind === 'train' ? s.runs.continuedBy(id) : null,
      };
    },

    async getEnergySummary(): Promise<EnergySummary> {
      // Totals over every run, in SQL; the list shows the latest runs (oldest first).
      const s = ctx.db();
      const out: EnergySummary = { totals: s.runs.energyTotals(), runs: [] };
      const runs = s.runs.list({ limit: ENERGY_LIST_RUNS }).filter((r) => r.energy);
      for (const r of runs.reverse()) {
        const e = r.energy!;
        const measured = !isEstimatedSource(e.source);
        const fig = (x: EnergyFigure | null) => (x ? { kwh: x.kwh, co2eKg: x.co2e_kg } : null);
        const summary = toRunSummary(r);
        out.runs.push({
          runId: r.id,
          kind: summary.kind,
          label: r.label ?? `${r.kind} run ${r.id}`,
          status: summary.status,
          series: r.kind === 'train' ? 'training from scratch' : r.kind,
          measured,
          source: e.source,
          attribution: e.attribution,
          kwh: e.kwh,
          co2eKg: e.co2e_kg,
          fixedEpochs: fig(summary.energyFixedEpochs),
          untilBest: fig(summary.energyUntilBest),
        });
      }
      return out;
    },
  };
}
