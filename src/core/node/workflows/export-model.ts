// decomposer export-model: a model folder (trained here or imported), or a repaired classifier
// (wizard/repaired-onnx.ts), back as one ONNX file. A model is written
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
import { isRepairedDir, readRepairedParts } from '../wizard/repaired.ts';
import { repairedOnnx, REPAIRED_SCORES_DOC } from '../wizard/repaired-onnx.ts';

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
  const exists = await fsp.lstat(out).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new UserError(`${out} exists already.`, 'Choose another file name, or delete that file.', 'usage');
  if (await isRepairedDir(dir)) return exportRepaired(dir, out);
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

/** A repaired classifier (the wizard's) as one ONNX file: output "scores" (repaired-onnx.ts). */
async function exportRepaired(dir: string, out: string): Promise<ExportedModel> {
  const { manifest, parts } = await readRepairedParts(dir);
  const bytes = repairedOnnx(
    manifest,
    parts.map((p) => ({ plan: p.plan, preprocess: p.meta?.preprocess ?? DEFAULT_PREPROCESS, set: p.set })),
    {
      class_names: JSON.stringify(manifest.classNames),
      input: 'pixels: uint8 [N, H, W, 3] RGB; each model’s preprocessing is in the graph',
      output: REPAIRED_SCORES_DOC,
      repaired: JSON.stringify({ name: manifest.name, kind: manifest.kind, history: manifest.history }),
    },
  );
  await writeFileAtomic(out, bytes);
  return {
    file: out,
    bytes: bytes.byteLength,
    classes: manifest.classNames,
    inputShape: [...parts[0]!.plan.input.shape],
  };
}
