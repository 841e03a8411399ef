// Portable modules: a module set written as standalone ONNX models that any ONNX runtime can
// run without Decomposer. Each module is the parent's weights with the module's masks baked
// in as constants and its two-node head in place of the output layer; input preprocessing
// is inside the graph (uint8 RGB pixels in, NHWC); one output, the concerned probability.
// A composed classifier holds every module of the set in one model (the weights once, one
// masked pass per module) and outputs each module's probability, in class order: its
// argmax is the composed prediction, as Decomposer's composition decides it.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { GreyInput } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { writeDirAtomic, writeFileSynced } from '../fs/atomic.ts';
import {
  convertToOnnx,
  PIXELS,
  PROBABILITIES,
  PROBABILITY,
  type PortableModule,
} from '../inference/convert.ts';
import type { ModelPlan } from '../inference/plan.ts';
import type { Preprocess } from '../models/io.ts';
import type { ModuleData, ModuleSet } from './decompose.ts';

/** The index file of an export folder (what is in it and how to feed it). */
export const PORTABLE_INDEX = 'portable.json';
export const COMPOSED_ONNX = 'composed.onnx';

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
  return convertToOnnx(plan, { input: 'uint8', preprocess, modules: set.modules.map(portable) });
}

/**
 * Writes every module of `set` and the composed classifier into `dir` (created; an earlier
 * export there is replaced, any other non-empty folder refused), with an index describing
 * the input and outputs. Written atomically: a failed export leaves no half folder.
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
  const entries = await fsp.readdir(abs).catch(() => null);
  if (entries && entries.length > 0 && !entries.includes(PORTABLE_INDEX))
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
  await writeDirAtomic(abs, async (tmp) => {
    for (const m of set.modules) {
      const bytes = moduleOnnx(plan, preprocess, m);
      await writeFileSynced(path.join(tmp, moduleFile(m)), bytes);
      out.modules.push({
        classIndex: m.classIndex,
        className: m.className,
        file: path.join(abs, moduleFile(m)),
        bytes: bytes.byteLength,
      });
    }
    const composed = composedOnnx(plan, preprocess, set);
    await writeFileSynced(path.join(tmp, COMPOSED_ONNX), composed);
    out.composed.bytes = composed.byteLength;
    const index = {
      format: 'decomposer-portable-modules',
      approach: set.approach,
      point: set.point,
      source: opts.source ?? null,
      input: {
        name: PIXELS,
        type: 'uint8',
        shape: ['N', h, w, c],
        layout: 'NHWC, RGB; preprocessing (pixel - mean) / std is inside the graph',
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
        output: `${PROBABILITIES} [N, ${set.modules.length}]: each module's probability, in the order of classes; the argmax is the composed prediction`,
      },
    };
    await writeFileSynced(path.join(tmp, PORTABLE_INDEX), JSON.stringify(index, null, 1));
  });
  return out;
}
