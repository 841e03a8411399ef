// One user-built reuse or replace scenario (the UI's builder), run through the grid's own
// machinery: the same one-time decomposition, composed evaluation, baseline trained from
// scratch, and the same costs and CO2e ratios as a row of the paper's grids.
import { UserError } from '../../common/errors.ts';
import type { GridParams } from '../../common/reuse.ts';
import { runGrid, type GridContext, type GridModel, type ScenarioRow } from './grid.ts';
import { gridSpec } from './grid-spec.ts';
import type { Scenario, ScenarioClass } from '../reuse/scenario.ts';
import type { BaselineArchitecture } from '../models/io.ts';

export interface CustomScenario {
  kind: 'reuse' | 'replace';
  /** Reuse: the classes composed, in label order. */
  classes?: ScenarioClass[];
  /** Replace: model A's class whose module is replaced, and the module (of model B) replacing it. */
  replaced?: number;
  replacement?: ScenarioClass;
}

/** The grid parameters of one scenario: its kind and scope come from the scenario itself. */
export type CustomOptions = Omit<GridParams, 'kind' | 'scopes'>;

/** Builds the scenario and the models it needs (reuse keeps only the models it picks from). */
export function buildScenario(
  c: CustomScenario,
  models: GridModel[],
): { scenario: Scenario; models: GridModel[] } {
  const classCount = (i: number) => models[i]?.data.info.classNames.length ?? 0;
  const check = (p: ScenarioClass) => {
    if (!models[p.source] || p.classIndex < 0 || p.classIndex >= classCount(p.source))
      throw new UserError(
        `Model ${p.source + 1} has no class ${p.classIndex}.`,
        "Pick classes from the models' own class lists.",
        'bad-scenario',
      );
  };
  if (c.kind === 'reuse') {
    const picks = c.classes ?? [];
    if (picks.length < 2)
      throw new UserError(
        'A reuse scenario needs at least two classes.',
        'Pick two or more.',
        'bad-scenario',
      );
    picks.forEach(check);
    const keys = picks.map((p) => `${p.source}:${p.classIndex}`);
    if (new Set(keys).size !== keys.length)
      throw new UserError('A class is picked twice.', 'Pick each class once.', 'bad-scenario');
    // Keep only the models picked from, renumbered in order.
    const used = [...new Set(picks.map((p) => p.source))].sort((a, b) => a - b);
    const classes = picks.map((p) => ({ source: used.indexOf(p.source), classIndex: p.classIndex }));
    const kind = used.length > 1 ? 'inter-reuse' : 'intra-reuse';
    return {
      scenario: {
        kind,
        key: `custom-${kind}:${classes.map((p) => `${p.source}.${p.classIndex}`).join('-')}`,
        classes,
        images: classes,
      },
      models: used.map((i) => models[i]!),
    };
  }
  if (models.length !== 2)
    throw new UserError('A replace scenario needs two models.', 'Pick a second model.', 'bad-scenario');
  const r = c.replaced ?? -1;
  const q = c.replacement;
  if (!q || q.source !== 1)
    throw new UserError(
      'A replace scenario needs a module of the second model.',
      'Pick the replacing class.',
      'bad-scenario',
    );
  check({ source: 0, classIndex: r });
  check(q);
  const n = classCount(0);
  const intra = models[0]!.data.info.id === models[1]!.data.info.id && q.classIndex === r;
  const classes = Array.from({ length: n }, (_, i) => (i === r ? q : { source: 0, classIndex: i }));
  const kind = intra ? 'intra-replace' : 'inter-replace';
  return {
    scenario: {
      kind,
      key: `custom-${kind}:${r}-${q.classIndex}`,
      classes,
      replaced: r,
      // Intra: the same classes' images; inter: label r now stands for B's class.
      images: intra ? Array.from({ length: n }, (_, i) => ({ source: 0, classIndex: i })) : classes,
    },
    models,
  };
}

/**
 * Runs one scenario (decomposing the models once, training its baseline) and returns its row.
 * Its spec is a grid's (gridSpec): what `o` leaves out takes the grid's defaults and the
 * settings, the baseline's architecture model A's.
 */
export async function runCustomScenario(
  c: CustomScenario,
  allModels: (GridModel & { baseline: BaselineArchitecture })[],
  o: CustomOptions,
  ctx: GridContext,
): Promise<ScenarioRow> {
  const { scenario, models } = buildScenario(c, allModels);
  const scope = scenario.kind.startsWith('intra') ? 'intra' : 'inter';
  const spec = gridSpec(
    { ...o, kind: c.kind, scopes: [scope] },
    { settings: ctx.settings, models: allModels },
  );
  const result = await runGrid(spec, models, { ...ctx, scenarios: [scenario] });
  const row = result.rows[0];
  if (!row) throw new Error('The scenario produced no result.');
  return row;
}
