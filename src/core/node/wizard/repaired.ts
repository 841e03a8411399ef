// A repaired classifier: either a set of modules (one per label, possibly from several models,
// a removed label having none) or a verifying pipeline (the original model, whose predictions
// of either class of a pair are re-decided by that pair's modules). Saved as a named folder
// holding copies of the models it needs, their module sets and a manifest with its history;
// loadRepaired + predictRepaired give the same predictions as before saving.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { REPAIR_NAME_RE } from '../../common/api.ts';
import { isUserError, UserError } from '../../common/errors.ts';
import { createDirAtomic, writeFileSynced } from '../fs/atomic.ts';
import { readRegularText, TEXT_MAX } from '../fs/read.ts';
import { composedScores, type ComposeSource } from '../decompose/compose.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import { loadModuleSet, saveModuleSet } from '../decompose/files.ts';
import { openInference } from '../inference/index.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import type { InferenceEngine } from '../inference/types.ts';
import { readModelDir, type ModelMeta } from '../models/io.ts';
import { argmaxRows } from '../train/metrics.ts';
import {
  checkRepairedParts,
  parseRepairedManifest,
  REPAIRED_FORMAT,
  REPAIRED_MANIFEST,
  type RepairedManifest,
  type RepairedManifestInput,
} from './repaired-manifest.ts';

export { REPAIRED_FORMAT, REPAIRED_MANIFEST };

/** What a repaired classifier is made of, without open engines: enough to save it. */
export interface RepairedRecipe {
  kind: 'modules' | 'verify';
  classNames: string[];
  parts: { modelDir: string; set: ModuleSet | null }[];
  labels?: (LabelSource | null)[];
  verify?: { base: number; pair: { label: number; source: LabelSource }[] };
}

export interface RepairedPart {
  /** The model's folder (model.json). */
  modelDir: string;
  engine: InferenceEngine;
  /** Its modules (null: only the whole model is used). */
  set: ModuleSet | null;
}

/** Which module serves a label: class `classIndex` of part `part`. */
export interface LabelSource {
  part: number;
  classIndex: number;
}

export interface RepairedPipeline extends RepairedRecipe {
  parts: RepairedPart[];
  /** kind 'modules': per label its module, null when the label's module was removed. */
  labels?: (LabelSource | null)[];
  /** kind 'verify': the whole model of part `base`; predictions of a pair label are re-decided by the pair's modules. */
  verify?: { base: number; pair: { label: number; source: LabelSource }[] };
}

/** A removed label's score: below every other, never chosen. */
export const REMOVED_SCORE = -Infinity;

/** The lowest score of a pair label the pair's modules re-decided: above every probability (at most 1). */
export const REDECIDED_FLOOR = 2;

/**
 * Ranking scores [count, classes], higher is more likely (argmax: the repaired prediction).
 * They are not probabilities: modules are ranked by their log-odds (concerned minus
 * unconcerned logit), as composed votes are (compose.ts), since a confident model's modules
 * give probabilities that round to 1 in float32 for several classes at once.
 * - modules: each label's module's log-odds; a removed label scores REMOVED_SCORE;
 * - verify: the base model's probabilities; where it predicts one of the pair's labels, the
 *   pair's labels score REDECIDED_FLOOR plus their module's log-odds above the pair's lowest
 *   (the pair in its modules' order, above every other class, never tied with one).
 * repaired-onnx.ts computes the same in the exported graph.
 */
export async function repairedScores(
  p: RepairedPipeline,
  images: Uint8Array,
  count: number,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const n = p.classNames.length;
  const src = (s: LabelSource): ComposeSource => {
    const part = p.parts[s.part]!;
    if (!part.set)
      throw new UserError(
        'A repaired pipeline names modules it does not have.',
        'Save it again.',
        'bad-modules',
      );
    return { engine: part.engine, set: part.set, classes: [s.classIndex] };
  };
  if (p.kind === 'modules') {
    const used = p.labels!.map((s, label) => ({ s, label })).filter((x) => x.s !== null);
    const out = new Float32Array(count * n).fill(REMOVED_SCORE);
    if (!count || !used.length) return out;
    const c = await composedScores(
      used.map((x) => src(x.s!)),
      images,
      count,
      { signal },
    );
    const M = used.length;
    for (let i = 0; i < count; i++)
      for (let j = 0; j < M; j++) out[i * n + used[j]!.label] = c.margins[i * M + j]!;
    return out;
  }
  const v = p.verify!;
  const probs = Float32Array.from(await p.parts[v.base]!.engine.predict(images, count));
  const top = argmaxRows(probs, n);
  const labels = v.pair.map((x) => x.label);
  const rows: number[] = [];
  for (let i = 0; i < count; i++) if (labels.includes(top[i]!)) rows.push(i);
  if (!rows.length) return probs;
  const per = images.length / Math.max(1, count);
  const sub = new Uint8Array(rows.length * per);
  rows.forEach((r, k) => sub.set(images.subarray(r * per, (r + 1) * per), k * per));
  const c = await composedScores(
    v.pair.map((x) => src(x.source)),
    sub,
    rows.length,
    { signal },
  );
  const M = v.pair.length;
  rows.forEach((r, k) => {
    const row = c.margins.subarray(k * M, (k + 1) * M);
    const lowest = Math.min(...row);
    for (let j = 0; j < M; j++) probs[r * n + labels[j]!] = REDECIDED_FLOOR + (row[j]! - lowest);
  });
  return probs;
}

export async function predictRepaired(
  p: RepairedPipeline,
  images: Uint8Array,
  count: number,
  signal?: AbortSignal,
): Promise<Int32Array> {
  return argmaxRows(await repairedScores(p, images, count, signal), p.classNames.length);
}

/** What repaired.json holds (repaired-manifest.ts). */
export type Manifest = RepairedManifest;

async function copyModelFiles(from: string, to: string): Promise<void> {
  await fsp.mkdir(to, { recursive: true });
  for (const e of await fsp.readdir(from, { withFileTypes: true }))
    if (e.isFile()) await fsp.copyFile(path.join(from, e.name), path.join(to, e.name));
}

/** Saves the pipeline as <parent>/<name>/ and returns that folder. Refuses an existing one. */
export async function saveRepaired(
  p: RepairedRecipe,
  parent: string,
  name: string,
  history: RepairedManifestInput['history'],
): Promise<string> {
  if (!REPAIR_NAME_RE.test(name))
    throw new UserError(
      `"${name}" is not a usable folder name.`,
      'Use letters, digits, dots, dashes and underscores.',
      'usage',
    );
  const dir = path.resolve(parent, name);
  const exists = await fsp.stat(dir).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new UserError(`${dir} exists already.`, 'Choose another name, or delete that folder.', 'usage');
  await createDirAtomic(dir, async (tmp) => {
    const parts: Manifest['parts'] = [];
    for (let i = 0; i < p.parts.length; i++) {
      const part = p.parts[i]!;
      const rel = `part-${i}`;
      await copyModelFiles(part.modelDir, path.join(tmp, rel));
      let modules: string | null = null;
      if (part.set) {
        await saveModuleSet(path.join(tmp, rel), part.set, 'set');
        modules = path.join(rel, 'modules', 'set');
      }
      parts.push({ dir: rel, modules, from: path.resolve(part.modelDir) });
    }
    const m: RepairedManifestInput = {
      format: REPAIRED_FORMAT,
      version: 1,
      name,
      createdAt: new Date().toISOString(),
      kind: p.kind,
      classNames: p.classNames,
      parts,
      ...(p.labels ? { labels: p.labels } : {}),
      ...(p.verify ? { verify: p.verify } : {}),
      history,
    };
    await writeFileSynced(path.join(tmp, REPAIRED_MANIFEST), JSON.stringify(m, null, 2));
  });
  return dir;
}

/** Whether a folder holds a saved repaired classifier (rather than a model). */
export async function isRepairedDir(dir: string): Promise<boolean> {
  return fsp.stat(path.join(dir, REPAIRED_MANIFEST)).then(
    (st) => st.isFile(),
    () => false,
  );
}

/** repaired.json read and checked whole, without opening anything it names. */
async function readRepaired(dir: string): ReturnType<typeof parseRepairedManifest> {
  let text: string;
  try {
    text = await readRegularText(path.join(dir, REPAIRED_MANIFEST), { maxBytes: TEXT_MAX });
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(
      `No repaired classifier in ${dir} (no readable ${REPAIRED_MANIFEST}).`,
      'Give a folder saved by `decomposer wizard`.',
      'no-modules',
    );
  }
  return parseRepairedManifest(text, dir);
}

/** A saved repaired classifier's manifest, read without opening anything. */
export async function readRepairedManifest(dir: string): Promise<Manifest> {
  return (await readRepaired(dir)).manifest;
}

/** A saved repaired classifier's manifest and parts (plans, metadata, module sets), checked, nothing opened. */
export async function readRepairedParts(dir: string): Promise<{
  manifest: Manifest;
  parts: { modelDir: string; plan: ModelPlan; meta: ModelMeta | null; set: ModuleSet | null }[];
}> {
  const { manifest: m, parts: where } = await readRepaired(dir);
  const read: { modelDir: string; plan: ModelPlan; meta: ModelMeta | null; set: ModuleSet | null }[] = [];
  for (const e of where) {
    const model = await readModelDir(e.modelDir);
    const plan = planModel(model.artifacts);
    read.push({
      modelDir: e.modelDir,
      plan,
      meta: model.meta,
      set: e.modules ? await loadModuleSet(e.modules, { plan }) : null,
    });
  }
  checkRepairedParts(m, read, dir);
  return { manifest: m, parts: read };
}

/** Loads a saved pipeline (close it with closeRepaired). */
export async function loadRepaired(
  dir: string,
  opts: { engine?: 'auto' | 'onnxruntime' | 'tfjs' } = {},
): Promise<{ pipeline: RepairedPipeline; name: string; history: Manifest['history'] }> {
  const { manifest: m, parts: read } = await readRepairedParts(dir);
  const parts: RepairedPart[] = [];
  try {
    for (const e of read)
      parts.push({
        modelDir: e.modelDir,
        engine: await openInference(e.modelDir, { engine: opts.engine }),
        set: e.set,
      });
  } catch (err) {
    await Promise.all(parts.map((x) => x.engine.close()));
    throw err;
  }
  return {
    pipeline: { kind: m.kind, classNames: m.classNames, parts, labels: m.labels, verify: m.verify },
    name: m.name,
    history: m.history,
  };
}

export async function closeRepaired(p: RepairedPipeline): Promise<void> {
  await Promise.all(p.parts.map((x) => x.engine.close()));
}
