// Composition: every chosen module runs on an input and gives its concerned probability
// (softmax over its two-node head); the composed top-1 is the module with the highest,
// top-5 the five highest. Modules of one model share one engine session; modules whose
// masks are equal share one forward pass (the masked model's head input, "features"), and
// each module's head is then two dot products. Without hidden Dense layers, backtracked
// positions are unused by the head, so modules are run with their CI/TI masks only and the
// approaches of one decomposition share their passes (`exact: true` runs every mask).
import { createHash } from 'node:crypto';
import { describePreprocess } from '../graph/inputs.ts';
import { UserError } from '../../common/errors.ts';
import { featuresInTurn, type InferenceEngine, type MaskSet } from '../inference/types.ts';
import { concernedProbability, headLogits } from './algorithms.ts';
import type { ModuleData, ModuleSet } from './decompose.ts';

export interface ComposeSource {
  engine: InferenceEngine;
  set: ModuleSet;
  /** Class indices of the modules to use (default: all). */
  classes?: number[];
}

export interface ComposedScores {
  /** Row-major [count, modules]: each module's concerned probability. */
  scores: Float32Array;
  /**
   * The same, as log-odds (concerned minus unconcerned logit): what votes are ranked by. A
   * confident model's modules give probabilities that round to 1 in float32 for several
   * classes at once; their log-odds still tell them apart.
   */
  margins: Float32Array;
  /** Per column, the class index (in the first source's classes) it votes for. */
  labels: number[];
  /** Forward passes run, and module evaluations they served. */
  passes: number;
  moduleEvaluations: number;
  seconds: number;
}

/** The masks a module's composed evaluation runs with (its CI/TI masks where the head allows). */
export function maskOf(set: ModuleSet, m: ModuleData, exact: boolean): MaskSet {
  const src = exact || set.needsFullMasks ? m.removed : m.forced;
  const out: MaskSet = new Map();
  for (const l of set.layers) {
    const r = src.get(l.name)!;
    if (!r.some((v) => v !== 0)) continue;
    const keep = new Uint8Array(r.length);
    for (let i = 0; i < r.length; i++) keep[i] = r[i] ? 0 : 1;
    out.set(l.name, keep);
  }
  return out;
}

function maskKey(masks: MaskSet): string {
  const h = createHash('sha1');
  for (const [k, v] of [...masks].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    h.update(k);
    h.update(v as Uint8Array);
  }
  return h.digest('hex');
}

/**
 * Checks modules can be composed: models that take images of one shape. Their preprocessing
 * may differ: each engine preprocesses the same images its own way.
 */
export function checkComposable(sources: ComposeSource[]): void {
  const first = sources[0];
  if (!first) throw new UserError('No modules to compose.', 'Choose at least one module set.', 'no-modules');
  for (const s of sources) {
    const a = first.set.parent.inputShape.join('x');
    const b = s.set.parent.inputShape.join('x');
    if (a !== b) {
      throw new UserError(
        `Modules from models with different inputs cannot be composed (${a} vs ${b}).`,
        'Compose modules of models that take the same images.',
        'incompatible-modules',
      );
    }
  }
}

export async function composedScores(
  sources: ComposeSource[],
  images: Uint8Array,
  count: number,
  opts: {
    exact?: boolean;
    /** false: each module's pass on its own (predictFeaturesMany's baseline). */
    share?: boolean;
    onProgress?: (f: number) => void;
    signal?: AbortSignal;
  } = {},
): Promise<ComposedScores> {
  checkComposable(sources);
  const t0 = performance.now();
  const cols: { src: ComposeSource; m: ModuleData; key: string; masks: MaskSet }[] = [];
  for (const s of sources) {
    if (!s.engine.predictFeatures) {
      throw new UserError(
        `The ${s.engine.name} engine cannot compute module outputs.`,
        'Use the onnxruntime or tfjs engine.',
        'no-features',
      );
    }
    const pick = s.classes ? new Set(s.classes) : null;
    // One pass serves every module of the same model, preprocessing and masks.
    const model = `${s.set.parent.hash}|${describePreprocess(s.engine.layout.preprocess)}`;
    for (const m of s.set.modules) {
      if (pick && !pick.has(m.classIndex)) continue;
      const masks = maskOf(s.set, m, opts.exact ?? false);
      cols.push({ src: s, m, masks, key: `${model}|${maskKey(masks)}` });
    }
  }
  const M = cols.length;
  const scores = new Float32Array(count * M);
  const margins = new Float32Array(count * M);
  const groups = new Map<string, number[]>();
  cols.forEach((c, j) => groups.set(c.key, [...(groups.get(c.key) ?? []), j]));
  // Each engine's mask sets in one call, which shares what their passes share where it can.
  const byEngine = new Map<InferenceEngine, number[][]>();
  for (const js of groups.values()) {
    const e = cols[js[0]!]!.src.engine;
    byEngine.set(e, [...(byEngine.get(e) ?? []), js]);
  }
  let done = 0;
  for (const [engine, sets] of byEngine) {
    const masks = sets.map((js) => cols[js[0]!]!.masks);
    const progress = (f: number) => opts.onProgress?.((done + f * sets.length) / groups.size);
    const features = engine.predictFeaturesMany
      ? await engine.predictFeaturesMany(images, count, masks, {
          share: opts.share,
          onProgress: progress,
          signal: opts.signal,
        })
      : await featuresInTurn(engine, images, count, masks, { onProgress: progress, signal: opts.signal });
    sets.forEach((js, g) => {
      const F = cols[js[0]!]!.src.set.features;
      const f = features[g]!;
      for (const j of js) {
        const h = cols[j]!.m.head;
        for (let i = 0; i < count; i++) {
          const [zc, zu] = headLogits(h, f, i * F);
          scores[i * M + j] = concernedProbability(zc, zu);
          margins[i * M + j] = zc - zu;
        }
      }
    });
    done += sets.length;
  }
  return {
    scores,
    margins,
    labels: cols.map((c) => c.m.classIndex),
    passes: groups.size,
    moduleEvaluations: M * count,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Top-k accuracy of composed votes (ranked by their log-odds) over the images whose label some module votes for. */
export function composedAccuracy(c: ComposedScores, labels: Int32Array, k: number): number {
  const M = c.labels.length;
  const known = new Set(c.labels);
  let hit = 0;
  let n = 0;
  const order = Array.from({ length: M }, (_, j) => j);
  for (let i = 0; i < labels.length; i++) {
    if (!known.has(labels[i]!)) continue;
    n++;
    const row = c.margins.subarray(i * M, (i + 1) * M);
    const top = order
      .slice()
      .sort((a, b) => row[b]! - row[a]! || a - b)
      .slice(0, k);
    if (top.some((j) => c.labels[j] === labels[i])) hit++;
  }
  return n ? hit / n : 0;
}

/**
 * The Jaccard index read the predecessor's way (Pan et al. compare modules with each other):
 * the mean over every pair of modules of |K_i ∩ K_j| / |K_i ∪ K_j|, K_i module i's kept
 * positions of the mask layers (two empty modules count as equal). Unlike kept / total it can
 * rise when backtracking removes from every module alike. Bit-packed: 200 modules of a
 * ResNet-20 are about 20,000 pairs.
 */
export function meanPairwiseJaccard(set: ModuleSet): number {
  const n = set.modules.length;
  if (n < 2) return 1;
  const words = (set.layers.reduce((a, l) => a + l.size, 0) + 31) >>> 5;
  const kept = set.modules.map((m) => {
    const bits = new Uint32Array(words);
    let at = 0;
    for (const l of set.layers) {
      const r = m.removed.get(l.name);
      for (let i = 0; i < l.size; i++, at++) if (!r || !r[i]) bits[at >>> 5]! |= 1 << (at & 31);
    }
    return bits;
  });
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const a = kept[i]!;
    for (let j = i + 1; j < n; j++) {
      const b = kept[j]!;
      let inter = 0;
      let union = 0;
      for (let w = 0; w < words; w++) {
        inter += popcount(a[w]! & b[w]!);
        union += popcount(a[w]! | b[w]!);
      }
      sum += union ? inter / union : 1;
    }
  }
  return sum / ((n * (n - 1)) / 2);
}

function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Mean Jaccard index of a module set: mean over modules of kept / total mask positions. */
export function meanJaccard(set: ModuleSet): number {
  if (!set.modules.length) return 0;
  return set.modules.reduce((s, m) => s + m.ji, 0) / set.modules.length;
}
