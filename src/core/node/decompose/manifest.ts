// A module set's manifest.json as written and read back: one schema, then the rules that tie
// it to modules.bin and to the model it was made from. All of it is checked before modules.bin
// is read or a mask allocated, so an edited field is named instead of becoming a huge
// allocation, a raw error or modules that silently mean something else.
import { UserError } from '../../common/errors.ts';
import { int, num, parseJsonWith, v } from '../../common/schema.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { BLN_RULES } from './algorithms.ts';
import { bitsetBytes } from './bitset.ts';
import { APPROACHES, DECOMPOSE_VERSION, POINTS } from './decompose.ts';
import { analyzeGraph, type MaskLayer } from './graph.ts';

export const MODULES_FORMAT = 'decomposer-modules';

const COUNT = 2 ** 31 - 1;
const BYTES = Number.MAX_SAFE_INTEGER;

const LAYER = v.object({
  name: v.string(),
  shape: v.array(int(1, COUNT)),
  size: int(1, COUNT),
  op: v.picklist(['conv', 'dense']),
});

export const MODULES_MANIFEST = v.object({
  format: v.literal(MODULES_FORMAT),
  version: int(1, DECOMPOSE_VERSION),
  runId: v.string(),
  createdAt: v.string(),
  approach: v.picklist(APPROACHES),
  point: v.picklist(POINTS),
  delta: num(0, 1e9),
  rule: v.picklist(BLN_RULES),
  seed: v.pipe(v.number(), v.integer('must be a whole number')),
  perClass: int(0, COUNT),
  unconcerned: int(0, COUNT),
  k: int(0, COUNT),
  sample: v.array(v.array(int(0, COUNT))),
  warnings: v.array(v.string()),
  parent: v.object({
    hash: v.pipe(v.string(), v.minLength(1, 'must not be empty')),
    inputShape: v.array(int(1, COUNT)),
    classes: int(1, COUNT),
    classNames: v.array(v.string()),
  }),
  layers: v.array(LAYER),
  features: int(1, COUNT),
  needsFullMasks: v.boolean(),
  seconds: v.object({ observe: v.number(), build: v.number() }),
  engine: v.string(),
  bin: v.object({
    bytes: int(0, BYTES),
    sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex')),
  }),
  modules: v.array(
    v.object({
      classIndex: int(0, COUNT),
      className: v.string(),
      offset: int(0, BYTES),
      bytes: int(0, BYTES),
      kept: int(0, BYTES),
      total: int(0, BYTES),
      ji: num(0, 1),
      // Informational (the head is read from modules.bin); a NaN bias was written as null.
      bc: v.nullable(v.number()),
      buc: v.nullable(v.number()),
    }),
  ),
});

export type ModulesManifest = v.InferOutput<typeof MODULES_MANIFEST>;

/** The bytes one module takes in modules.bin: per mask layer two bitsets, the head's kept bitset, then (4-byte aligned) its weights and biases. */
export function moduleBytes(set: { layers: readonly MaskLayer[]; features: number }): number {
  let n = 0;
  for (const l of set.layers) n += 2 * bitsetBytes(l.size);
  n += bitsetBytes(set.features);
  n = (n + 3) & ~3;
  return n + 8 * set.features + 8;
}

export function editedModules(dir: string, what: string): UserError {
  return new UserError(
    `The modules in ${dir} cannot be read: ${what}.`,
    'The folder was edited or damaged: delete it and decompose the model again.',
    'bad-modules',
  );
}

/**
 * A manifest read back: its JSON against the schema, then the rules between its fields (one
 * module per class at most, each where modules.bin's layout puts it). A manifest of a newer
 * version says so instead of naming the fields it does not know.
 */
export function parseModulesManifest(text: string, dir: string): ModulesManifest {
  let version: unknown;
  try {
    version = (JSON.parse(text) as { version?: unknown } | null)?.version;
  } catch {
    version = undefined; // reported by parseJsonWith
  }
  if (typeof version === 'number' && version > DECOMPOSE_VERSION)
    throw new UserError(
      `The modules in ${dir} were made by a newer version.`,
      'Update the app.',
      'bad-modules',
    );
  const m = parseJsonWith(
    MODULES_MANIFEST,
    text,
    `The modules manifest in ${dir}`,
    'The folder was edited or damaged: delete it and decompose the model again.',
    'bad-modules',
  );
  if (m.parent.classNames.length !== m.parent.classes)
    throw editedModules(
      dir,
      `parent.classNames lists ${m.parent.classNames.length} names for ${m.parent.classes} classes`,
    );
  for (const [i, l] of m.layers.entries())
    if (l.shape.reduce((a, b) => a * b, 1) !== l.size)
      throw editedModules(dir, `layers[${i}].size is ${l.size}, not the ${l.shape.join(' x ')} of its shape`);
  const per = moduleBytes(m);
  if (m.bin.bytes !== per * m.modules.length)
    throw editedModules(dir, `bin.bytes is ${m.bin.bytes}, not ${m.modules.length} modules of ${per} bytes`);
  const seen = new Set<number>();
  for (const [i, e] of m.modules.entries()) {
    if (e.offset !== i * per || e.bytes !== per)
      throw editedModules(
        dir,
        `modules[${i}] is not where modules.bin's layout puts it (offset ${i * per}, ${per} bytes)`,
      );
    if (e.classIndex >= m.parent.classes || seen.has(e.classIndex))
      throw editedModules(
        dir,
        `modules[${i}].classIndex ${e.classIndex} is ${seen.has(e.classIndex) ? 'a second module of one class' : `not one of the model's ${m.parent.classes} classes`}`,
      );
    seen.add(e.classIndex);
  }
  return m;
}

/**
 * Refuses a manifest that does not describe modules of this model: made from another model (or
 * one that changed since), or whose masked layers and head are not the model's.
 */
export function checkModulesFitModel(m: ModulesManifest, plan: ModelPlan, dir: string): void {
  if (m.parent.hash !== plan.hash)
    throw new UserError(
      `The modules in ${dir} were made from a different model (or the model changed since they were made).`,
      'Decompose this model again, or give the model the modules were made from.',
      'modules-stale',
    );
  const g = analyzeGraph(plan);
  const same = (a: MaskLayer, b: MaskLayer): boolean =>
    a.name === b.name && a.size === b.size && a.op === b.op && a.shape.join() === b.shape.join();
  if (m.layers.length !== g.layers.length)
    throw editedModules(dir, `it masks ${m.layers.length} layers where the model has ${g.layers.length}`);
  for (const [i, l] of m.layers.entries())
    if (!same(l, g.layers[i]!))
      throw editedModules(
        dir,
        `layers[${i}] is ${l.name} of ${l.shape.join(' x ')}, where the model's is ${g.layers[i]!.name} of ${g.layers[i]!.shape.join(' x ')}`,
      );
  if (m.features !== g.features || m.parent.classes !== g.classes)
    throw editedModules(
      dir,
      `its head has ${m.features} inputs and ${m.parent.classes} classes, the model's ${g.features} and ${g.classes}`,
    );
}
