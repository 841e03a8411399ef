// Reuse and replace scenarios (Tables 2-5, Figure 6): their parameters (one schema each: a
// scenario the user builds, a grid) and result rows.
import { BLN_RULES, DECOMPOSE_APPROACHES, DECOMPOSE_POINTS, INFERENCE } from './decomposition.ts';
import {
  BATCH_SIZE,
  CLASS_INDEX,
  DELTA,
  DEPTH,
  EPOCHS,
  GRID_PAIRS,
  GRID_PICK,
  PATIENCE,
  SAMPLE_PER_CLASS,
  SEED,
} from './bounds.ts';
import { PATH, someOf, v, fields } from './schema.ts';

/** One class of a scenario: class `classIndex` of model `source` (0: the first model, 1: the second). */
const PICK = fields({
  source: v.custom<number>((x) => x === 0 || x === 1, 'must be 0 (the first model) or 1 (the second)'),
  classIndex: CLASS_INDEX.schema,
});

export type ScenarioPick = v.InferOutput<typeof PICK>;

const SCENARIO_KINDS = ['reuse', 'replace'] as const;
const KIND = v.picklist(SCENARIO_KINDS, 'must be reuse or replace');
const APPROACH = v.picklist(DECOMPOSE_APPROACHES, `must be one of ${DECOMPOSE_APPROACHES.join(', ')}`);

const SCENARIO_FIELDS = fields({
  kind: KIND,
  /** One or two model folders. */
  models: v.pipe(
    v.array(PATH, 'must be one or two model folders'),
    v.minLength(1, 'must be one or two model folders'),
    v.maxLength(2, 'must be one or two model folders'),
  ),
  /** Reuse: the classes composed, in label order (at least 2). */
  classes: v.optional(
    v.pipe(
      v.array(PICK),
      v.minLength(2, 'must be at least two classes (a reuse scenario composes two or more)'),
      v.maxLength(1000, 'must be at most 1000 classes'),
    ),
  ),
  /** Replace: model A's class whose module is replaced, and the module that replaces it (from model B). */
  replaced: v.optional(CLASS_INDEX.schema),
  replacement: v.optional(PICK),
  approach: APPROACH,
  perClass: SAMPLE_PER_CLASS.schema,
  baselineEpochs: EPOCHS.schema,
  seed: SEED.schema,
});

type ScenarioFields = v.InferOutput<typeof SCENARIO_FIELDS>;

/** A rule between the fields, reported on `field` (checked once every field is valid). */
const rule = <K extends keyof ScenarioFields>(
  field: K,
  ok: (p: ScenarioFields) => boolean,
  message: string,
) => v.forward<ScenarioFields, v.CheckIssue<ScenarioFields>, [K]>(v.check(ok, message), [field]);

/** One reuse or replace scenario the user builds (the Reuse page). */
export const SCENARIO_PARAMS = v.pipe(
  SCENARIO_FIELDS,
  rule('models', (p) => p.kind !== 'replace' || p.models.length === 2, 'a replace scenario needs two models'),
  rule(
    'classes',
    (p) => p.kind !== 'reuse' || p.classes !== undefined,
    'a reuse scenario needs at least two classes',
  ),
  rule(
    'classes',
    (p) => p.kind !== 'replace' || p.classes === undefined,
    'a replace scenario takes replaced and replacement, not classes',
  ),
  rule(
    'classes',
    (p) => (p.classes ?? []).every((c) => c.source < p.models.length),
    'must each be a class of a given model',
  ),
  rule(
    'replaced',
    (p) => p.kind !== 'reuse' || p.replaced === undefined,
    'a reuse scenario has no replaced class',
  ),
  rule(
    'replaced',
    (p) => p.kind !== 'replace' || p.replaced !== undefined,
    'a replace scenario needs the class whose module is replaced',
  ),
  rule(
    'replacement',
    (p) => p.kind !== 'reuse' || p.replacement === undefined,
    'a reuse scenario has no replacement',
  ),
  rule(
    'replacement',
    (p) => p.kind !== 'replace' || p.replacement?.source === 1,
    'must be a class of the second model',
  ),
);

export type ScenarioParams = v.InferOutput<typeof SCENARIO_PARAMS>;

export const GRID_SCOPES = ['intra', 'inter'] as const;

/**
 * A reuse or replace grid (Tables 2-5, Figure 6) as `experiment reuse|replace` asks for it;
 * what is left out takes the grid's defaults and the settings (workflows/grid-spec.ts). A
 * scenario the user builds (SCENARIO_PARAMS) runs as a grid of these parameters too.
 */
export const GRID_PARAMS = fields({
  kind: KIND,
  /** Which scenarios: intra (one dataset) and/or inter (two datasets). */
  scopes: v.optional(someOf(GRID_SCOPES, 'must be intra, inter or both')),
  seed: v.optional(SEED.schema),
  /** Intra reuse: classes picked at random, composed pairwise (paper: 4, so 6 pairs). */
  pick: v.optional(GRID_PICK.schema),
  /** Inter reuse pairs, inter replace count. */
  pairs: v.optional(GRID_PAIRS.schema),
  /** Intra replace: the classes whose module is replaced (default all). */
  replaceClasses: v.optional(v.array(CLASS_INDEX.schema)),
  approach: v.optional(APPROACH),
  /** Decomposition: images per class observed, where, and MC-BLN's δ and rule. */
  perClass: v.optional(SAMPLE_PER_CLASS.schema),
  point: v.optional(v.picklist(DECOMPOSE_POINTS, `must be ${DECOMPOSE_POINTS.join(', ')}`)),
  delta: v.optional(DELTA.schema),
  rule: v.optional(v.picklist(BLN_RULES, `must be ${BLN_RULES.join(' or ')}`)),
  /** Each baseline: its most epochs and its patience (default: the settings), depth, batch size. */
  baselineEpochs: v.optional(EPOCHS.schema),
  baselinePatience: v.optional(PATIENCE.schema),
  baselineDepth: v.optional(DEPTH.schema),
  batchSize: v.optional(BATCH_SIZE.schema),
  /** Inference engine for the reuse side (put both sides on tfjs with 'tfjs'). */
  inference: v.optional(INFERENCE),
});

export type GridParams = v.InferOutput<typeof GRID_PARAMS>;

/** A finished scenario: accuracies (fractions) and CO2e ratios (baseline over reuse). */
export interface ScenarioView {
  scenario: 'reuse' | 'replace';
  kind: 'intra' | 'inter';
  classes: string[];
  ma?: number;
  mma?: number;
  top1?: number;
  top5?: number;
  modelTop1?: number;
  modelTop5?: number;
  tma: number;
  testImages: number;
  co2eRatioFixed: number | null;
  co2eRatioBest: number | null;
  co2eRatioFixedWithDecomposition: number | null;
  co2eRatioBestWithDecomposition: number | null;
  reuseCo2eKg: number;
  decompositionCo2eKg: number;
  baselineFixedCo2eKg: number;
  baselineBestCo2eKg: number;
  estimated: boolean;
  /** How its energy was attributed: process, machine or mixed. */
  attribution?: string;
  /** A side whose energy is below its noise floor (then the ratios are null and flagged). */
  reuseBelowFloor?: boolean;
  baselineBelowFloor?: boolean;
  /** Process attribution: the sides whose runs had under a quarter of a busy machine's CPU time. */
  crowdedSides?: ('reuse' | 'baseline')[];
  /** False when the baseline was still improving when it stopped (its ratio is flagged). */
  baselineConverged?: boolean;
  /** The baseline's best validation epoch. */
  baselineBestEpoch?: number;
}
