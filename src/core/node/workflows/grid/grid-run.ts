// One grid under way, as its steps (the one-time decompositions, each scenario, each
// baseline) share it: the spec, the models opened and decomposed, and the rows done.
import type { ModelPlan } from '../../graph/plan.ts';
import type { InferenceEngine } from '../../inference/types.ts';
import type { ModuleSet } from '../../decompose/decompose.ts';
import type { MeasureContext } from '../../measure/measured.ts';
import type { Cost } from '../costs.ts';
import type { GridContext, GridModel, GridSpec } from './types.ts';

/** A grid's model, opened for inference, with its modules and what decomposing it cost. */
export interface DecomposedModel {
  model: GridModel;
  plan: ModelPlan;
  engine: InferenceEngine;
  set: ModuleSet;
  decomposition: Cost;
}

export interface GridRun {
  spec: GridSpec;
  opened: DecomposedModel[];
  ctx: GridContext;
  gridId: string;
  /** Finished rows by key (scenario:…, baseline:…, decompose:…), so a resumed grid skips them. */
  done: Map<string, { row: unknown; runId: number | null }>;
}

/**
 * A grid's runs are recorded without the recorder's lines (the grid reports its own progress),
 * on its one idle measurement; its baselines' trainings report theirs like any training.
 */
export function quietRuns(ctx: GridContext): MeasureContext {
  return {
    store: ctx.store,
    settings: ctx.settings,
    idle: ctx.idle,
    signal: ctx.signal,
    experimentId: ctx.experimentId,
    onTraining: ctx.onTraining,
  };
}
