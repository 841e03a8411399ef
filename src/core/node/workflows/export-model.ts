// decomposer export-model: a model folder (trained here or imported) back as one ONNX file,
// the way every graph here is written (inference/convert.ts): one uint8 input "pixels"
// [N, H, W, 3] (RGB, as images are stored; a grey model takes their luma), the model's own
// preprocessing inside the graph, and "probs" [N, classes]. Standard operators only, so any
// ONNX runtime runs it; its metadata names the classes, the preprocessing and where the
// model came from.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../common/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { planModel } from '../graph/plan.ts';
import { convertToOnnx } from '../inference/index.ts';
import { DEFAULT_PREPROCESS, readModelDir, type ModelMeta } from '../models/io.ts';
import { isRepairedDir } from '../wizard/repaired.ts';

export interface ExportedModel {
  file: string;
  bytes: number;
  classes: string[];
  inputShape: number[];
}

/** What the file says of the model (metadata_props). */
function metadataOf(meta: ModelMeta | null, classes: string[]): Record<string, string> {
  const out: Record<string, string> = {
    class_names: JSON.stringify(classes),
    input: 'pixels: uint8 [N, H, W, 3] RGB; the preprocessing is in the graph',
    preprocess: JSON.stringify(meta?.preprocess ?? DEFAULT_PREPROCESS),
  };
  if (meta?.architecture === 'imported') out.source = JSON.stringify(meta.source);
  else if (meta) out.architecture = `ResNet-${meta.depth}${meta.batchNorm ? ' with batch norm' : ''}`;
  return out;
}

/** Writes the model in `dir` as one ONNX file `file`; never replaces an existing file. */
export async function exportModel(dir: string, file: string): Promise<ExportedModel> {
  const out = path.resolve(file);
  if (await isRepairedDir(dir))
    throw new UserError(
      `${dir} holds a repaired classifier: its modules come from several models.`,
      'Export its modules with `decomposer decompose --model DIR --export-onnx` per model, or export the models it was made from.',
      'usage',
    );
  const exists = await fsp.lstat(out).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new UserError(`${out} exists already.`, 'Choose another file name, or delete that file.', 'usage');
  const read = await readModelDir(dir);
  const plan = planModel(read.artifacts);
  const classes = read.meta?.classNames ?? Array.from({ length: plan.classes }, (_, i) => `class-${i}`);
  const bytes = convertToOnnx(plan, {
    input: 'uint8',
    preprocess: read.meta?.preprocess ?? DEFAULT_PREPROCESS,
    metadata: metadataOf(read.meta, classes),
  });
  await writeFileAtomic(out, bytes);
  return { file: out, bytes: bytes.byteLength, classes, inputShape: [...plan.input.shape] };
}
