// A saved repaired classifier's repaired.json: one schema, the rules between its fields, and
// the rules that tie it to the models and modules it names. Checked whole before anything it
// names is opened (its paths must stay inside its folder), and against the loaded parts before
// it predicts, so an edited file is refused by name instead of giving a raw error or silently
// wrong predictions.
import path from 'node:path';
import { UserError } from '../../common/errors.ts';
import { int, parseJsonWith, v } from '../../common/schema.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import { insideFolder } from '../fs/read.ts';
import type { ModelPlan } from '../graph/plan.ts';

export const REPAIRED_FORMAT = 'decomposer-repaired';
export const REPAIRED_MANIFEST = 'repaired.json';

const COUNT = 2 ** 31 - 1;
/** More models than any repair option combines. */
const MAX_PARTS = 64;

const LABEL_SOURCE = v.object({ part: int(0, MAX_PARTS - 1), classIndex: int(0, COUNT) });

/** A figure the wizard measured; NaN (nothing to measure it on) was written as null. */
const FIGURE = v.pipe(
  v.nullable(v.number()),
  v.transform((x) => x ?? Number.NaN),
);
const ACCURACY = v.object({ top1: FIGURE, top5: FIGURE, confusion: FIGURE, other_top1: FIGURE });
const CLASS = v.object({ index: int(0, COUNT), name: v.string() });

/** What the wizard records of how a repair was made and measured (other keys are kept as they are). */
export const REPAIRED_HISTORY = v.looseObject({
  model: v.optional(v.string()),
  dataset: v.optional(v.string()),
  faulty: v.optional(CLASS),
  victim: v.optional(CLASS),
  option: v.optional(int(1, 4)),
  label: v.optional(v.string()),
  accuracy: v.optional(ACCURACY),
  initial: v.optional(ACCURACY),
});

export type RepairedHistory = v.InferOutput<typeof REPAIRED_HISTORY>;

export const REPAIRED_SCHEMA = v.object({
  format: v.literal(REPAIRED_FORMAT),
  version: v.literal(1),
  name: v.string(),
  createdAt: v.string(),
  kind: v.picklist(['modules', 'verify']),
  classNames: v.pipe(v.array(v.string()), v.minLength(1, 'must name at least one class')),
  parts: v.pipe(
    v.array(
      v.object({
        dir: v.pipe(v.string(), v.minLength(1, 'must not be empty')),
        modules: v.nullable(v.pipe(v.string(), v.minLength(1, 'must not be empty'))),
        from: v.string(),
      }),
    ),
    v.minLength(1, 'must name at least one model'),
    v.maxLength(MAX_PARTS, `must name at most ${MAX_PARTS} models`),
  ),
  labels: v.optional(v.array(v.nullable(LABEL_SOURCE))),
  verify: v.optional(
    v.object({
      base: int(0, MAX_PARTS - 1),
      pair: v.pipe(v.array(v.object({ label: int(0, COUNT), source: LABEL_SOURCE })), v.minLength(1)),
    }),
  ),
  history: v.nullish(REPAIRED_HISTORY),
});

export type RepairedManifest = v.InferOutput<typeof REPAIRED_SCHEMA>;
/** repaired.json as it is written (a figure may be null). */
export type RepairedManifestInput = v.InferInput<typeof REPAIRED_SCHEMA>;

const HINT = 'The folder was edited or damaged: save the repaired classifier again with `decomposer wizard`.';

function refuse(dir: string, what: string): UserError {
  return new UserError(`The repaired classifier in ${dir} cannot be used: ${what}.`, HINT, 'bad-modules');
}

/**
 * repaired.json's text checked whole: the schema, then the rules between fields (a label per
 * class name, every source a part that has modules, the pair's labels among the classes) and
 * every path inside the folder. Returns the manifest with its parts' absolute paths.
 */
export async function parseRepairedManifest(
  text: string,
  dir: string,
): Promise<{ manifest: RepairedManifest; parts: { modelDir: string; modules: string | null }[] }> {
  const file = path.join(dir, REPAIRED_MANIFEST);
  const m = parseJsonWith(REPAIRED_SCHEMA, text, file, HINT, 'bad-modules');
  const n = m.classNames.length;
  const sources: { at: string; part: number }[] = [];
  if (m.kind === 'modules') {
    if (!m.labels || m.verify) throw refuse(dir, 'a set of modules needs labels and no verify');
    if (m.labels.length !== n)
      throw refuse(dir, `labels has ${m.labels.length} entries for ${n} class names`);
    if (!m.labels.some((s) => s !== null)) throw refuse(dir, 'every label was removed');
    m.labels.forEach((s, i) => s && sources.push({ at: `labels[${i}]`, part: s.part }));
  } else {
    if (!m.verify || m.labels) throw refuse(dir, 'a verifying pipeline needs verify and no labels');
    if (m.verify.base >= m.parts.length)
      throw refuse(dir, `verify.base is part ${m.verify.base} of ${m.parts.length}`);
    const seen = new Set<number>();
    m.verify.pair.forEach((p, i) => {
      if (p.label >= n || seen.has(p.label))
        throw refuse(
          dir,
          `verify.pair[${i}].label ${p.label} is ${seen.has(p.label) ? 'named twice' : `not one of the ${n} classes`}`,
        );
      seen.add(p.label);
      sources.push({ at: `verify.pair[${i}].source`, part: p.source.part });
    });
  }
  for (const s of sources) {
    if (s.part >= m.parts.length) throw refuse(dir, `${s.at} names part ${s.part} of ${m.parts.length}`);
    if (m.parts[s.part]!.modules === null)
      throw refuse(dir, `${s.at} names part ${s.part}, which has no modules`);
  }
  const parts = [];
  for (const [i, p] of m.parts.entries())
    parts.push({
      modelDir: await insideFolder(dir, p.dir, `${file} (parts[${i}].dir)`),
      modules:
        p.modules === null ? null : await insideFolder(dir, p.modules, `${file} (parts[${i}].modules)`),
    });
  return { manifest: m, parts };
}

/**
 * The manifest against its loaded parts: every label's module is one its part's set has, the
 * parts take the same input, and a verifying pipeline's model has one output per class name.
 */
export function checkRepairedParts(
  m: RepairedManifest,
  parts: { plan: ModelPlan; set: ModuleSet | null }[],
  dir: string,
): void {
  const shape = parts[0]!.plan.input.shape.join(' x ');
  parts.forEach((p, i) => {
    if (p.plan.input.shape.join(' x ') !== shape)
      throw refuse(dir, `part ${i} takes ${p.plan.input.shape.join(' x ')} inputs, part 0 ${shape}`);
  });
  const check = (at: string, s: { part: number; classIndex: number }): void => {
    const set = parts[s.part]!.set!;
    if (!set.modules.some((x) => x.classIndex === s.classIndex))
      throw refuse(
        dir,
        `${at} names module ${s.classIndex} of part ${s.part}, which has ${set.modules.length} modules (${set.modules.map((x) => x.classIndex).join(', ')})`,
      );
  };
  m.labels?.forEach((s, i) => s && check(`labels[${i}]`, s));
  m.verify?.pair.forEach((p, i) => check(`verify.pair[${i}].source`, p.source));
  if (m.verify && parts[m.verify.base]!.plan.classes !== m.classNames.length)
    throw refuse(
      dir,
      `its model (part ${m.verify.base}) has ${parts[m.verify.base]!.plan.classes} classes but classNames lists ${m.classNames.length}`,
    );
}
