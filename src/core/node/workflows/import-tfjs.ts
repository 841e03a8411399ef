// A tfjs-layers folder made elsewhere (Keras through tensorflowjs_converter, or TensorFlow.js
// itself) read as an import: its layers as the plan every imported model is, its output given
// a softmax where it ends in logits, and where it came from. What it was trained on (its
// preprocessing) the folder does not say: the import records what the user gives.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../common/errors.ts';
import { planModel } from '../graph/plan.ts';
import { planToSpec } from '../graph/plan-spec.ts';
import { MODEL_JSON, readModelDir, type PlanArtifacts } from '../models/io.ts';

export interface ImportedTfjs {
  artifacts: PlanArtifacts;
  /** [H, W, C]. */
  inputShape: [number, number, number];
  classes: number;
  layout: 'nhwc';
  output: 'logits' | 'probabilities';
  batchNorm: 'present' | 'none';
  producer: { name: string; version: string };
  sha256: string;
  bytes: number;
  /** The model.json it was read from. */
  file: string;
  warnings: string[];
}

/** Whether `p` names a tfjs-layers model (a folder holding model.json, or a model.json). */
export async function isTfjsLayers(p: string): Promise<boolean> {
  const st = await fsp.stat(p).catch(() => null);
  if (st?.isDirectory()) return (await fsp.stat(path.join(p, MODEL_JSON)).catch(() => null)) !== null;
  return path.basename(p) === MODEL_JSON;
}

/** What wrote the model.json (tensorflowjs_converter says both; TensorFlow.js its version). */
function producerOf(json: Record<string, unknown>): { name: string; version: string } {
  const by = typeof json.convertedBy === 'string' ? json.convertedBy : null;
  const gen = typeof json.generatedBy === 'string' ? json.generatedBy : null;
  const [name, ...rest] = (by ?? gen ?? 'unknown').split(' ');
  return { name: name!, version: rest.join(' ') || (by && gen ? gen : 'unknown') };
}

export async function importTfjsLayers(p: string): Promise<ImportedTfjs> {
  const read = await readModelDir(p);
  if (read.artifacts.kind === 'plan')
    throw new UserError(
      `${p} holds a model folder Decomposer wrote (plan.json): it is a model already.`,
      'Use it with --model as it is. Nothing was written.',
      'usage',
    );
  const file = path.join(read.dir, MODEL_JSON);
  const json = await fsp.readFile(file);
  const plan = planModel(read.artifacts);
  const spec = planToSpec(plan);
  const out = plan.nodes.find((n) => n.name === plan.output)!;
  const logits = out.act !== 'softmax';
  if (logits) {
    const name = `${plan.output}/softmax`;
    spec.plan.nodes.push({ name, className: 'Softmax', inputs: [plan.output] });
    spec.plan.output = name;
  }
  const sha = createHash('sha256').update(json).update(new Uint8Array(read.artifacts.weightData));
  const [h, w, c] = plan.input.shape as [number, number, number];
  return {
    artifacts: spec,
    inputShape: [h, w, c],
    classes: plan.classes,
    layout: 'nhwc',
    output: logits ? 'logits' : 'probabilities',
    batchNorm: plan.nodes.some((n) => n.op === 'bn') ? 'present' : 'none',
    producer: producerOf(JSON.parse(json.toString('utf8')) as Record<string, unknown>),
    sha256: sha.digest('hex'),
    bytes: json.byteLength + read.artifacts.weightData.byteLength,
    file,
    warnings: [],
  };
}
