// Planning a grid before anything runs: which scenarios its spec asks for, whether its models
// can be composed at all, and its id (the same spec on the same models resumes the same grid).
import { createHash } from 'node:crypto';
import type { Attribution } from '../../../common/energy.ts';
import { UserError } from '../../../common/errors.ts';
import type { ModelPlan } from '../../graph/plan.ts';
import { DEFAULT_SETTINGS } from '../../store/settings.ts';
import {
  interReplaceGrid,
  interReuseGrid,
  intraReplaceGrid,
  intraReuseGrid,
  type Scenario,
} from '../../reuse/scenario.ts';
import type { GridModel, GridSpec } from './types.ts';

/** The scenario's test images, by source and class: scenarios on the same images share a baseline. */
export const imagesKey = (s: Scenario) => s.images.map((c) => `${c.source}:${c.classIndex}`).join(',');

export function scenariosFor(spec: GridSpec, models: GridModel[]): Scenario[] {
  const nA = models[0]!.data.info.classNames.length;
  const nB = models[1]?.data.info.classNames.length ?? 0;
  const out: Scenario[] = [];
  const needB = (what: string) => {
    if (!models[1]) {
      throw new UserError(
        `${what} needs a second model.`,
        'Give it with --model2 DIR (and --dataset2 NAME).',
        'usage',
      );
    }
  };
  for (const scope of spec.scopes) {
    if (spec.kind === 'reuse' && scope === 'intra') out.push(...intraReuseGrid(nA, spec.seed, spec.pick));
    if (spec.kind === 'reuse' && scope === 'inter') {
      needB('Inter-dataset reuse');
      out.push(...interReuseGrid(nA, nB, spec.seed, spec.pairs));
    }
    if (spec.kind === 'replace' && scope === 'intra') {
      needB('Intra-dataset replace');
      if (models[1]!.data.info.id !== models[0]!.data.info.id) {
        throw new UserError(
          'Intra-dataset replace needs two models of the same dataset.',
          "Give a second model trained on the first model's dataset (another depth, or trained longer).",
          'usage',
        );
      }
      out.push(...intraReplaceGrid(nA, spec.replaceClasses));
    }
    if (spec.kind === 'replace' && scope === 'inter') {
      needB('Inter-dataset replace');
      out.push(...interReplaceGrid(nA, nB, spec.seed, spec.pairs));
    }
  }
  return out;
}

/** Refuses models of different input sizes: their modules cannot be composed. */
export function checkComposable(models: GridModel[]): void {
  const sizes = new Set(models.map((m) => m.data.info.imageSize));
  if (sizes.size > 1) {
    throw new UserError(
      `The models take different input sizes (${[...sizes].join(' and ')}).`,
      "Modules whose models take different input sizes cannot be composed (the paper's stated limitation): pick models of one input size.",
      'incompatible-modules',
    );
  }
}

/**
 * The grid's id: its spec, each model's architecture and weights with its dataset, and how
 * its energy is attributed: rows measured one way are not resumed into a grid measured the
 * other (their ratios would mix two meanings). The default attribution adds nothing, so grids
 * started before the attribution counted keep their id and resume.
 */
export function gridId(
  spec: GridSpec,
  models: GridModel[],
  plans: ModelPlan[],
  attribution: Attribution,
): string {
  const measured = attribution === DEFAULT_SETTINGS.attribution ? {} : { attribution };
  return createHash('sha256')
    .update(
      JSON.stringify({ spec, models: plans.map((p, i) => [p.hash, models[i]!.data.info.id]), ...measured }),
    )
    .digest('hex')
    .slice(0, 16);
}
