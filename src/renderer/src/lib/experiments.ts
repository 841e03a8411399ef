// Experiments in words: what kind each is, what each run does in it, and the scenarios the
// Compare view can pick from. Pure functions, tested alone.
import type {
  ExperimentDetailView,
  ExperimentKind,
  ExperimentSummary,
  RunRole,
  ScenarioView,
} from '../../../core/common/api.ts';

export const EXPERIMENT_TEXT: Record<ExperimentKind, string> = {
  demo: 'Demo',
  grid: 'Reuse/replace grid',
  scenario: 'Scenario',
  wizard: 'Fix-it wizard',
  training: 'Training',
  decomposition: 'Decomposition',
  evaluation: 'Evaluation',
};

export const ROLE_TEXT: Record<RunRole, string> = {
  model: 'model training',
  baseline: 'baseline (trained from scratch)',
  decomposition: 'decomposition',
  evaluation: 'evaluation',
  reuse: 'reuse',
  replace: 'replace',
  option: 'repair option',
};

/** The run's role in its experiment in words, with the scenario it serves. */
export function roleText(r: { role: RunRole | null; scenario: string | null }): string {
  if (!r.role) return '—';
  const base = ROLE_TEXT[r.role];
  if (!r.scenario) return base;
  return r.role === 'option' ? r.scenario : `${base}: ${r.scenario}`;
}

/** Experiments whose runs can have reuse or replace scenarios (what Compare offers). */
export function comparable(list: readonly ExperimentSummary[]): ExperimentSummary[] {
  return list.filter((e) => e.kind === 'demo' || e.kind === 'grid' || e.kind === 'scenario');
}

/** One pickable scenario of the Compare view: unique across experiments. */
export interface PickedScenario {
  key: string;
  experiment: ExperimentDetailView;
  view: ScenarioView;
}

/** The scenarios of the given experiments, in order, each keyed by experiment and position. */
export function scenariosOf(experiments: readonly ExperimentDetailView[]): PickedScenario[] {
  return experiments.flatMap((e) =>
    e.scenarios.map((view, i) => ({ key: `${e.id}:${i}`, experiment: e, view })),
  );
}
