// Portable modules: a module set written as standalone ONNX models that any ONNX runtime can
// run without Decomposer. Each module is the parent's weights with the module's masks baked
// in as constants and its two-node head in place of the output layer; input preprocessing
// is inside the graph (uint8 RGB pixels in, NHWC); one output, the concerned probability.
// A composed classifier holds every module of the set in one model (the weights once, one
// masked pass per module) and outputs each module's probability and log-odds, in class
// order: the argmax of the log-odds is the composed prediction, as Decomposer ranks votes.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { GreyInput } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { v } from '../../common/schema.ts';
import { ownedFiles, writeOwnedFolder, WRITTEN, type LegacyFiles } from '../fs/owned.ts';
import {
  convertToOnnx,
  LOG_ODDS,
  PIXELS,
  PROBABILITIES,
  PROBABILITY,
  type PortableModule,
} from '../inference/convert.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { describePreprocess, pixelChannels } from '../graph/inputs.ts';
import type { Preprocess } from '../models/io.ts';
import type { ModuleData, ModuleSet } from './decompose.ts';

/** The index file of an export folder (what is in it and how to feed it). */
export const PORTABLE_INDEX = 'portable.json';
export const COMPOSED_ONNX = 'composed.onnx';
const PORTABLE_KIND = 'portable-modules';

export interface PortableExport {
  dir: string;
  modules: { classIndex: number; className: string; file: string; bytes: number }[];
  composed: { file: string; bytes: number; classes: string[] };
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40) || 'class';
export const moduleFile = (m: Pick<ModuleData, 'classIndex' | 'className'>) =>
  `module-${m.classIndex}-${slug(m.className)}.onnx`;

const portable = (m: ModuleData): PortableModule => ({ removed: m.removed, head: m.head });

/** One module as a standalone ONNX model (bytes). */
export function moduleOnnx(plan: ModelPlan, preprocess: Preprocess, m: ModuleData): Uint8Array {
  return convertToOnnx(plan, { input: 'uint8', preprocess, modules: [portable(m)] });
}

/** Every module of `set` in one ONNX model: output [N, modules], in the set's order. */
export function composedOnnx(plan: ModelPlan, preprocess: Preprocess, set: ModuleSet): Uint8Array {
  return convertToOnnx(plan, {
    input: 'uint8',
    preprocess,
    modules: set.modules.map(portable),
    logOdds: 'both',
  });
}

/** An earlier export's index, as far as it names the files that export wrote. */
const LEGACY_INDEX = v.object({
  format: v.literal('decomposer-portable-modules'),
  modules: v.array(v.object({ file: v.unknown() })),
  composed: v.optional(v.object({ file: v.unknown() })),
});

/** What an export of an earlier version (which kept no record) wrote: what its portable.json lists. */
const legacyExport: LegacyFiles = async (dir) => {
  const file = path.join(dir, PORTABLE_INDEX);
  if ((await fsp.stat(file)).size > 16 << 20) return null;
  const r = v.safeParse(LEGACY_INDEX, JSON.parse(await fsp.readFile(file, 'utf8')));
  if (!r.success) return null;
  const files = [...r.output.modules.map((m) => m.file), r.output.composed?.file];
  // Only names an export gives its files: an edited index never names someone else's file.
  const ours = (f: unknown): f is string =>
    typeof f === 'string' && /^(module-\d+-[A-Za-z0-9_-]+|composed)\.onnx$/.test(f);
  return [PORTABLE_INDEX, ...files.filter(ours)];
};

/**
 * Writes every module of `set` and the composed classifier into `dir` (created), with an index
 * describing the input and outputs. Into a folder that holds an earlier export, it replaces that
 * export's files and removes those it no longer writes; anything else there stays. A non-empty
 * folder without an earlier export is refused. Each file is written atomically, and a kill
 * mid-way is finished by the next export (see fs/owned.ts).
 */
export async function exportPortable(
  set: ModuleSet,
  plan: ModelPlan,
  preprocess: Preprocess,
  dir: string,
  opts: { grey?: GreyInput | null; source?: string } = {},
): Promise<PortableExport> {
  if (plan.hash !== set.parent.hash)
    throw new UserError(
      'These modules were made from a different model (or the model changed since).',
      'Export the modules with the model they were decomposed from.',
      'bad-input',
    );
  const abs = path.resolve(dir);
  const entries = (await fsp.readdir(abs).catch(() => [] as string[])).filter((e) => e !== WRITTEN);
  if (entries.length > 0 && !(await ownedFiles(abs, PORTABLE_KIND, legacyExport)))
    throw new UserError(
      `${abs} is not empty and holds no earlier export (${PORTABLE_INDEX}): nothing was written.`,
      'Give a new or empty folder for the exported modules.',
      'not-empty',
    );
  const [h, w, c] = plan.input.shape;
  const out: PortableExport = {
    dir: abs,
    modules: [],
    composed: { file: path.join(abs, COMPOSED_ONNX), bytes: 0, classes: set.modules.map((m) => m.className) },
  };
  await writeOwnedFolder(
    abs,
    PORTABLE_KIND,
    async (folder) => {
      for (const m of set.modules) {
        const bytes = moduleOnnx(plan, preprocess, m);
        await folder.put(moduleFile(m), bytes);
        out.modules.push({
          classIndex: m.classIndex,
          className: m.className,
          file: path.join(abs, moduleFile(m)),
          bytes: bytes.byteLength,
        });
      }
      const composed = composedOnnx(plan, preprocess, set);
      await folder.put(COMPOSED_ONNX, composed);
      out.composed.bytes = composed.byteLength;
      const index = {
        format: 'decomposer-portable-modules',
        approach: set.approach,
        point: set.point,
        source: opts.source ?? null,
        input: {
          name: PIXELS,
          type: 'uint8',
          shape: ['N', h, w, pixelChannels(c!)],
          layout:
            c === 1
              ? `NHWC, RGB; inside the graph: the grey value (rounded Rec. 601 luma) as the model's one channel, then ${describePreprocess(preprocess)}`
              : `NHWC, ${c === 3 ? 'RGB' : `${c} channels`}; inside the graph: ${describePreprocess(preprocess)} per channel`,
          preprocess,
          ...(opts.grey
            ? {
                grey: {
                  ...opts.grey,
                  note: `the model was trained on ${opts.grey.sourceSize}x${opts.grey.sourceSize} grey images, the grey value in all three channels, ${opts.grey.fit === 'pad' ? 'centred on a black canvas' : 'scaled'} to ${h}x${w}`,
                },
              }
            : {}),
        },
        modules: set.modules.map((m) => ({
          class_index: m.classIndex,
          class: m.className,
          file: moduleFile(m),
          output: `${PROBABILITY} [N]: the probability that the image is of this class`,
        })),
        composed: {
          file: COMPOSED_ONNX,
          classes: out.composed.classes,
          output: `${PROBABILITIES} [N, ${set.modules.length}]: each module's probability, in the order of classes; ${LOG_ODDS} [N, ${set.modules.length}]: each module's log-odds (concerned minus unconcerned logit), whose argmax is the composed prediction (a confident model's probabilities can tie at 1 where their log-odds do not)`,
        },
      };
      await folder.put(PORTABLE_INDEX, JSON.stringify(index, null, 1));
    },
    { legacy: legacyExport },
  );
  return out;
}
