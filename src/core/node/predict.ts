// Classifying a user's own image files with a trained model or a saved repaired classifier
// (the wizard's): both open as one Classifier, and files are decoded and resized exactly as
// the folder dataset loader does for training (data/images.ts), so a model sees the same
// pixels it would have seen had the file been in its training folder.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { GreyInput, Progress } from '../common/dataset.ts';
import { UserError, isUserError } from '../common/errors.ts';
import { DECODE_CONCURRENCY, decodeGreyInto, decodeInto, pool } from './data/images.ts';
import { openInference, type InferenceEngineName } from './inference/index.ts';
import { planModel } from './graph/plan.ts';
import { checkModelMeta } from './models/fit.ts';
import { preprocessingNote, readModelDir } from './models/io.ts';
import {
  closeRepaired,
  isRepairedDir,
  loadRepaired,
  REDECIDED_FLOOR,
  repairedScores,
} from './wizard/repaired.ts';

export type ClassifierEngine = 'auto' | InferenceEngineName;

export interface Classifier {
  kind: 'model' | 'repaired';
  /** The folder it was opened from (absolute). */
  dir: string;
  /** A repaired classifier's saved name; a model's folder name. */
  name: string;
  classNames: string[];
  /** Images are inputSize x inputSize RGB. */
  inputSize: number;
  /** Set for a model trained on grey images: files are made grey and fitted as its dataset was. */
  grey: GreyInput | null;
  /** Class indices that are never predicted (a repaired classifier's removed modules). */
  removed: number[];
  /** The inference engine that runs it. */
  inference: InferenceEngineName;
  /** What a score means, in a few words for people. */
  scoreMeaning: string;
  /** Things to know before trusting its scores (a folder that records no preprocessing). */
  notes: string[];
  /** Scores [count, classes], higher is more likely (scoreMeaning); a removed class scores -Infinity. */
  scores(images: Uint8Array, count: number, signal?: AbortSignal): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * File extensions a folder is searched for. BMP is listed although this build's decoder
 * (sharp/libvips) cannot read it, so such files are reported as unreadable instead of being
 * skipped without a word.
 */
export const IMAGE_EXTENSIONS: readonly string[] = [
  '.png',
  '.jpg',
  '.jpeg',
  '.jpe',
  '.bmp',
  '.gif',
  '.webp',
  '.tif',
  '.tiff',
  '.avif',
];

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** Opens a trained model folder (model.json) or a repaired classifier saved by the wizard. */
export async function openClassifier(
  dir: string,
  opts: { engine?: ClassifierEngine } = {},
): Promise<Classifier> {
  const abs = path.resolve(dir);
  const st = await fsp.stat(abs).catch(() => null);
  if (!st)
    throw new UserError(
      `No model at ${abs} (it does not exist).`,
      'Give a model folder (model.json) or a repaired classifier saved by `decomposer wizard`.',
      'no-model',
    );
  const engine = opts.engine ?? 'auto';
  if (st.isDirectory() && (await isRepairedDir(abs))) {
    const loaded = await loadRepaired(abs, { engine });
    const p = loaded.pipeline;
    try {
      const first = await readModelDir(p.parts[0]!.modelDir);
      const plan = planModel(first.artifacts);
      checkModelMeta({ dir: first.dir, plan, meta: first.meta });
      const inputSize = plan.input.shape[0]!;
      const removed = p.kind === 'modules' ? (p.labels ?? []).flatMap((s, i) => (s === null ? [i] : [])) : [];
      return {
        kind: 'repaired',
        dir: abs,
        name: loaded.name,
        classNames: p.classNames,
        inputSize,
        grey: first.meta?.grey ?? null,
        removed,
        inference: p.parts[0]!.engine.name,
        scoreMeaning:
          p.kind === 'modules'
            ? "the class's module's log-odds that the image is of its class (concerned minus unconcerned logit; not a probability)"
            : `the model's probability; where the pair's modules re-decided a prediction, the two classes score ${REDECIDED_FLOOR} + their module's log-odds minus the lower of the two (not probabilities)`,
        notes: [],
        scores: (images, count, signal) => repairedScores(p, images, count, signal),
        close: () => closeRepaired(p),
      };
    } catch (e) {
      await closeRepaired(p);
      throw e;
    }
  }
  let read;
  try {
    read = await readModelDir(abs);
  } catch (e) {
    if (isUserError(e) && e.code === 'no-model') {
      const inner = path.join(abs, 'model');
      const run = await fsp.stat(path.join(inner, 'model.json')).then(
        () => true,
        () => false,
      );
      throw new UserError(
        e.message,
        run
          ? `${abs} is a training run: give its model folder, ${inner}.`
          : 'Give a model folder (model.json) or a repaired classifier saved by `decomposer wizard`.',
        'no-model',
      );
    }
    throw e;
  }
  const plan = planModel(read.artifacts);
  checkModelMeta({ dir: read.dir, plan, meta: read.meta });
  const inputSize = plan.input.shape[0]!;
  const classNames = read.meta?.classNames ?? Array.from({ length: plan.classes }, (_, i) => `class ${i}`);
  const eng = await openInference(read.dir, { engine });
  return {
    kind: 'model',
    dir: path.resolve(read.dir),
    name: path.basename(path.resolve(read.dir)),
    classNames,
    inputSize,
    grey: read.meta?.grey ?? null,
    removed: [],
    inference: eng.name,
    scoreMeaning: "the model's softmax probability",
    notes: [preprocessingNote(read.meta, read.dir)].filter((n) => n !== null),
    scores: async (images, count, signal) => {
      signal?.throwIfAborted();
      return eng.predict(images, count);
    },
    close: () => eng.close(),
  };
}

export interface Ranked {
  class: string;
  index: number;
  score: number;
}

export interface FilePrediction {
  file: string;
  top: Ranked[];
}

export interface UnreadableFile {
  file: string;
  reason: string;
}

export interface ClassifyResult {
  predictions: FilePrediction[];
  unreadable: UnreadableFile[];
}

async function walkImages(dir: string, out: string[]): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walkImages(p, out);
    else if (e.isFile() && isImageFile(e.name)) out.push(p);
  }
}

/**
 * The files to classify: each path as given (a file is tried whatever its name), each
 * folder's image files recursively (sorted; hidden files and other files ignored).
 * Throws UserError for a missing path or a folder without image files.
 */
export async function expandImagePaths(paths: string[]): Promise<string[]> {
  if (!paths.length)
    throw new UserError('No images given.', 'Name image files or folders of images to classify.', 'usage');
  const out: string[] = [];
  for (const p of paths) {
    const st = await fsp.stat(p).catch(() => null);
    if (!st)
      throw new UserError(
        `${path.resolve(p)} does not exist.`,
        'Check the path of the images to classify.',
        'not-found',
      );
    if (st.isDirectory()) {
      const found: string[] = [];
      await walkImages(p, found);
      if (!found.length)
        throw new UserError(
          `The folder ${path.resolve(p)} has no image files (${IMAGE_EXTENSIONS.join(' ')}).`,
          'Give a folder that holds images, or the image files themselves.',
          'no-images',
        );
      out.push(...found);
    } else out.push(p);
  }
  const seen = new Set<string>();
  return out.filter((f) => {
    const key = path.resolve(f);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Images decoded and scored at a time. */
export const PREDICT_BATCH = 256;

function reasonOf(file: string, e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
  if (path.extname(file).toLowerCase() === '.bmp' && /unsupported image format/i.test(msg))
    return 'BMP cannot be decoded here: convert it to PNG';
  return `not a readable image (${msg})`;
}

/**
 * Classifies image files and folders of images: each file decoded and resized to the
 * classifier's input size as for training, in batches; per file its top-K classes by
 * score (a repaired classifier's removed classes never appear). Files that cannot be
 * decoded are listed with the reason and do not stop the others.
 */
export async function classifyFiles(
  classifier: Classifier,
  paths: string[],
  opts: { topK?: number; signal?: AbortSignal; onProgress?: (p: Progress) => void; batchSize?: number } = {},
): Promise<ClassifyResult> {
  const files = await expandImagePaths(paths);
  const n = classifier.classNames.length;
  const candidates = classifier.classNames.map((_, i) => i).filter((i) => !classifier.removed.includes(i));
  const topK = Math.max(1, Math.min(opts.topK ?? 5, candidates.length));
  const size = classifier.inputSize;
  const px = size * size * 3;
  const batch = Math.max(1, Math.floor(opts.batchSize ?? PREDICT_BATCH));
  const predictions: FilePrediction[] = [];
  const unreadable: UnreadableFile[] = [];
  const stage = 'Classifying images';
  opts.onProgress?.({ stage, fraction: 0, detail: `${files.length} files` });
  for (let start = 0; start < files.length; start += batch) {
    opts.signal?.throwIfAborted();
    const chunk = files.slice(start, start + batch);
    const buf = new Uint8Array(chunk.length * px);
    const reasons: (string | null)[] = chunk.map(() => null);
    await pool(
      chunk.length,
      DECODE_CONCURRENCY,
      async (i) => {
        try {
          if (classifier.grey) await decodeGreyInto(chunk[i]!, classifier.grey, size, buf, i * px);
          else await decodeInto(chunk[i]!, size, buf, i * px);
        } catch (e) {
          reasons[i] = reasonOf(chunk[i]!, e);
        }
      },
      opts.signal,
    );
    // Pack the decoded images to the front, keeping their order.
    const ok: number[] = [];
    chunk.forEach((file, i) => {
      const reason = reasons[i];
      if (reason !== null) {
        unreadable.push({ file, reason });
        opts.onProgress?.({
          stage,
          fraction: (start + i) / files.length,
          detail: `skipped ${file} (${reason})`,
        });
        return;
      }
      if (ok.length !== i) buf.copyWithin(ok.length * px, i * px, (i + 1) * px);
      ok.push(i);
    });
    if (ok.length) {
      const scores = await classifier.scores(buf.subarray(0, ok.length * px), ok.length, opts.signal);
      ok.forEach((i, k) => {
        const row = scores.subarray(k * n, (k + 1) * n);
        const ranked = [...candidates].sort((a, b) => row[b]! - row[a]! || a - b).slice(0, topK);
        predictions.push({
          file: chunk[i]!,
          top: ranked.map((c) => ({ class: classifier.classNames[c]!, index: c, score: row[c]! })),
        });
      });
    }
    opts.onProgress?.({ stage, fraction: Math.min(1, (start + chunk.length) / files.length) });
  }
  return { predictions, unreadable };
}
