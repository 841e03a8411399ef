// A reuse or replace grid's spec, built in one place from the grid's parameters (GRID_PARAMS,
// one schema): `experiment reuse|replace` on the command line, a scenario built on the Reuse
// page and the demo's scenarios all come here, with the same defaults and the same checks.
import { GRID_PARAMS, type GridParams } from '../../common/reuse.ts';
import { parseWith } from '../../common/schema.ts';
import type { Settings } from '../../common/settings.ts';
import { UserError } from '../../common/errors.ts';
import type { BaselineArchitecture } from '../models/io.ts';
import { DEFAULT_DELTA } from '../decompose/algorithms.ts';
import { DEFAULT_APPROACH, DEFAULT_POINT } from '../decompose/decompose.ts';
import type { GridSpec } from './grid.ts';

/** What the defaults depend on: the settings in force, and the models given (model A's architecture). */
export interface GridDefaults {
  settings: Pick<Settings, 'baselineMaxEpochs' | 'baselinePatience'>;
  models: { baseline: BaselineArchitecture }[];
}

/**
 * The grid's spec: the parameters, checked with their schema, over the grid's defaults (the
 * paper's: 4 classes picked, 6 inter reuse pairs, 3 inter replacements, 1000 images per class;
 * baselines until the settings' patience runs out, of model A's depth, batch 32).
 */
export function gridSpec(params: GridParams, d: GridDefaults): GridSpec {
  const p = parseWith(GRID_PARAMS, params, 'The grid', 'Check the grid’s parameters.', 'bad-grid');
  // Baselines train model A's architecture: an imported one is never swapped for a ResNet.
  const a = d.models[0]?.baseline;
  const imported = a?.kind === 'imported' ? a : null;
  if (imported && p.baselineDepth !== undefined)
    throw new UserError(
      `Model A is imported (${imported.label}): its baselines train its own architecture, not a ResNet of depth ${p.baselineDepth}.`,
      'Leave out --baseline-depth.',
      'usage',
    );
  return {
    kind: p.kind,
    scopes: p.scopes ?? (d.models.length > 1 ? ['intra', 'inter'] : ['intra']),
    seed: p.seed ?? 1,
    pick: p.pick ?? 4,
    pairs: p.pairs ?? (p.kind === 'reuse' ? 6 : 3),
    ...(p.replaceClasses ? { replaceClasses: p.replaceClasses } : {}),
    approach: p.approach ?? DEFAULT_APPROACH,
    decompose: {
      perClass: p.perClass ?? 1000,
      point: p.point ?? DEFAULT_POINT,
      delta: p.delta ?? DEFAULT_DELTA,
      rule: p.rule ?? 'prose',
    },
    baseline: {
      epochs: p.baselineEpochs ?? d.settings.baselineMaxEpochs,
      patience: p.baselinePatience ?? d.settings.baselinePatience,
      depth: p.baselineDepth ?? (a?.kind === 'resnet' ? a.depth : 20),
      batchSize: p.batchSize ?? 32,
      ...(imported ? { architecture: imported.dir } : {}),
    },
    inference: p.inference ?? 'auto',
  };
}
