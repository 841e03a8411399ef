// Decomposes a model into one module per class from one shared observation pass:
// each class's seeded sample is observed once; its OR over the whole sample is its
// concerned activity (CI), its OR over the first k images is its share of every other
// module's unconcerned activity (TI, k = ceil(unconcerned / (n - 1))). Module c keeps
// OR_c(all) | OR_{j != c}(first k of j), then MC / MC-BLN / MC-BI as selected.
import type { ImageSet } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { Rng } from '../data/random.ts';
import type { InferenceEngine, ObservePoint } from '../inference/types.ts';
import type { ModelPlan } from '../graph/plan.ts';
import {
  backtrack,
  BLN_RULES,
  channelHead,
  DEFAULT_DELTA,
  headRemovals,
  type BlnRule,
  type ChanneledHead,
} from './algorithms.ts';
import { countOnes } from './bitset.ts';
import { analyzeGraph, type DecomposeGraph, type MaskLayer } from './graph.ts';
import { approachFromText } from '../../common/decomposition.ts';

export const APPROACHES = ['CI+TI+MC', 'CI+TI+MC-BLN', 'CI+TI+MC-BLN+MC-BI'] as const;
export type Approach = (typeof APPROACHES)[number];
export const DEFAULT_APPROACH: Approach = 'CI+TI+MC-BLN';
export const DECOMPOSE_VERSION = 1;
/**
 * Where activity is observed and which layers CI/TI mask:
 * - 'relu': the ReLU inputs, masked where a mask forces them exactly (the default);
 * - 'conv': every Conv2D output and hidden Dense unit (the paper's reading);
 * - 'conv-skip-add': as 'conv', but a convolution that feeds an Add stays unmasked.
 * In a ResNet a block's second convolution feeds an Add rather than a ReLU, so forcing its
 * never-positive positions to 0 raises the sum instead of leaving it as a ReLU would; that
 * is what 'conv' loses and the other two avoid (README, "Decomposition").
 */
export type DecompositionPoint = ObservePoint | 'conv-skip-add';
export const POINTS: readonly DecompositionPoint[] = ['relu', 'conv', 'conv-skip-add'];
export const DEFAULT_POINT: DecompositionPoint = 'relu';

/** The engine observation a point needs ('conv-skip-add' observes what 'conv' does). */
export const enginePoint = (p: DecompositionPoint): ObservePoint => (p === 'relu' ? 'relu' : 'conv');

export function parseApproach(v: string): Approach {
  const found = approachFromText(v);
  if (!found) {
    throw new UserError(
      `Unknown decomposition approach "${v}".`,
      `Use one of: ${APPROACHES.join(', ')} (or mc, bln, bi).`,
      'bad-approach',
    );
  }
  return found;
}

export interface DecomposeOptions {
  approaches?: Approach[];
  /** Where activity is observed: ReLU inputs (default) or Conv2D/Dense outputs (the paper). */
  point?: DecompositionPoint;
  /**
   * Several points from one call (Table 1 side by side): sets for each point in order, each
   * with every approach; points that observe alike share one observation pass.
   */
  points?: DecompositionPoint[];
  /**
   * Several MC-BLN head rules and thresholds from one call (measuring δ): every approach but
   * CI+TI+MC (which uses neither) once per variant. Default: [{ rule, delta }].
   */
  variants?: { rule: BlnRule; delta: number }[];
  /** Concerned images per class (paper: 1000). */
  perClass?: number;
  /** Unconcerned images per module, spread evenly over the other classes (default: perClass, 1:1). */
  unconcerned?: number;
  delta?: number;
  rule?: BlnRule;
  seed?: number;
  classNames?: string[];
  onProgress?: (fraction: number, stage: string) => void;
  signal?: AbortSignal;
}

export interface ModuleData {
  classIndex: number;
  className: string;
  /** Per mask layer, 1 = removed (CI/TI and backtracking). */
  removed: Map<string, Uint8Array>;
  /** Per mask layer, the CI/TI part of `removed`. */
  forced: Map<string, Uint8Array>;
  head: ChanneledHead;
  kept: number;
  total: number;
  /** Jaccard index with the model: |kept ∩ model| / |kept ∪ model| = kept / total. */
  ji: number;
}

export interface ModuleSet {
  approach: Approach;
  point: DecompositionPoint;
  delta: number;
  rule: BlnRule;
  seed: number;
  perClass: number;
  unconcerned: number;
  /** Images of each other class a module observes as unconcerned. */
  k: number;
  /** Per class, the training-set indices observed; the first k are its unconcerned share. */
  sample: number[][];
  warnings: string[];
  parent: { hash: string; inputShape: number[]; classes: number; classNames: string[] };
  layers: MaskLayer[];
  features: number;
  /** When false, evaluating with the CI/TI masks only gives the same outputs (no hidden Dense layers). */
  needsFullMasks: boolean;
  modules: ModuleData[];
  /** Seconds spent: the shared observation pass, and this approach's own work. */
  seconds: { observe: number; build: number };
  engine: string;
  version: number;
}

/** Per class, a seeded sample of up to `perClass` training indices. */
export function sampleClasses(
  labels: Int32Array,
  classes: number,
  perClass: number,
  seed: number,
): { sample: number[][]; warnings: string[] } {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l >= 0 && l < classes) byClass[l]!.push(i);
  }
  const rng = new Rng(seed);
  const warnings: string[] = [];
  const sample = byClass.map((idx, c) => {
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    if (idx.length < perClass) {
      warnings.push(
        `class ${c} has ${idx.length} training images, fewer than the ${perClass} asked: using all of them`,
      );
    }
    return idx.slice(0, perClass);
  });
  return { sample, warnings };
}

export function gather(set: ImageSet, idx: number[], per = set.size * set.size * 3): Uint8Array {
  const out = new Uint8Array(idx.length * per);
  idx.forEach((i, k) => out.set(set.images.subarray(i * per, (i + 1) * per), k * per));
  return out;
}

/** Observed activity per class: over the whole sample and over its first k images. */
export interface Observation {
  point: DecompositionPoint;
  all: Map<string, Uint8Array>[];
  first: Map<string, Uint8Array>[];
}

export async function observeSample(
  engine: InferenceEngine,
  train: ImageSet,
  sample: number[][],
  k: number,
  point: DecompositionPoint,
  onProgress?: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<Observation> {
  const per = engine.layout.inputShape.reduce((a, b) => a * b, 1);
  if (train.size * train.size * 3 !== per) {
    throw new UserError(
      `The dataset's images are ${train.size}x${train.size}x3 but the model takes [${engine.layout.inputShape.join(', ')}].`,
      "Decompose a model with the dataset it was trained on (or one of the model's input size).",
      'bad-input',
    );
  }
  const total = sample.reduce((s, x) => s + x.length, 0) || 1;
  let done = 0;
  const all: Map<string, Uint8Array>[] = [];
  const first: Map<string, Uint8Array>[] = [];
  for (const idx of sample) {
    signal?.throwIfAborted();
    const head = idx.slice(0, k);
    const rest = idx.slice(k);
    const a = await engine.observe(gather(train, head, per), head.length, { point: enginePoint(point) });
    const b = await engine.observe(gather(train, rest, per), rest.length, { point: enginePoint(point) });
    const or = new Map<string, Uint8Array>();
    for (const [name, v] of a) {
      const o = v.slice();
      const w = b.get(name)!;
      for (let i = 0; i < o.length; i++) o[i] = o[i]! | w[i]!;
      or.set(name, o);
    }
    first.push(a);
    all.push(or);
    done += idx.length;
    onProgress?.(done / total);
  }
  return { point, all, first };
}

/**
 * The mask layers an observed key's inactivity removes positions of, at a point: the layers
 * that force that ReLU to 0 ('relu'), the layer itself ('conv'), or the layer unless it
 * feeds an Add ('conv-skip-add'). One rule for CI/TI and continuous learning.
 */
export function ciTargets(
  g: DecomposeGraph,
  point: DecompositionPoint,
  key: string,
  maskNames: Set<string> = new Set(g.layers.map((l) => l.name)),
): string[] {
  if (point === 'relu') return g.reluTargets.get(key) ?? [];
  if (!maskNames.has(key)) return [];
  return point === 'conv-skip-add' && g.feedsAdd.has(key) ? [] : [key];
}

/** CI + TI: the removed positions of every module, per mask layer. */
export function ciTi(g: DecomposeGraph, obs: Observation): Map<string, Uint8Array>[] {
  const n = obs.all.length;
  // How many classes' first-k images activate each position.
  const counts = new Map<string, Uint16Array>();
  for (const m of obs.first) {
    for (const [name, v] of m) {
      let c = counts.get(name);
      if (!c) counts.set(name, (c = new Uint16Array(v.length)));
      for (let i = 0; i < v.length; i++) c[i]! += v[i]!;
    }
  }
  const maskNames = new Set(g.layers.map((l) => l.name));
  const out: Map<string, Uint8Array>[] = [];
  for (let c = 0; c < n; c++) {
    const forced = new Map<string, Uint8Array>(g.layers.map((l) => [l.name, new Uint8Array(l.size)]));
    for (const [key, all] of obs.all[c]!) {
      const cnt = counts.get(key)!;
      const mine = obs.first[c]!.get(key)!;
      const targets = ciTargets(g, obs.point, key, maskNames);
      for (const t of targets) {
        const f = forced.get(t)!;
        for (let i = 0; i < all.length; i++) {
          const active = all[i]! !== 0 || cnt[i]! - mine[i]! > 0;
          if (!active) f[i] = 1;
        }
      }
    }
    out.push(forced);
  }
  return out;
}

/** Builds one approach's modules from the CI/TI removals. */
export function buildModules(
  g: DecomposeGraph,
  forcedAll: Map<string, Uint8Array>[],
  approach: Approach,
  opts: { rule: BlnRule; delta: number; classNames: string[] },
): ModuleData[] {
  const total = g.layers.reduce((s, l) => s + l.size, 0);
  return forcedAll.map((forced, c) => {
    const head = channelHead(g.head, c);
    const removed = new Map<string, Uint8Array>();
    for (const [k, v] of forced) removed.set(k, v.slice());
    if (approach !== 'CI+TI+MC') {
      const hr = headRemovals(head, opts.rule, opts.delta);
      for (let i = 0; i < hr.length; i++) if (hr[i]) head.keep[i] = 0;
      const extra = backtrack(g, forced, hr, {
        throughConv: approach === 'CI+TI+MC-BLN+MC-BI',
        rule: opts.rule,
        delta: opts.delta,
      });
      for (const [k, v] of extra) {
        const r = removed.get(k)!;
        for (let i = 0; i < r.length; i++) r[i] = r[i]! | v[i]!;
      }
    }
    let gone = 0;
    for (const v of removed.values()) gone += countOnes(v);
    const kept = total - gone;
    return {
      classIndex: c,
      className: opts.classNames[c] ?? String(c),
      removed,
      forced,
      head,
      kept,
      total,
      ji: total ? kept / total : 1,
    };
  });
}

/**
 * Decomposes the model behind `engine` (its plan given) into one module per class, for
 * every approach asked, from one observation pass over the training set.
 */
export async function decompose(
  engine: InferenceEngine,
  plan: ModelPlan,
  train: ImageSet,
  opts: DecomposeOptions = {},
): Promise<ModuleSet[]> {
  const g = analyzeGraph(plan);
  const n = g.classes;
  const approaches = opts.approaches ?? [DEFAULT_APPROACH];
  const perClass = Math.floor(opts.perClass ?? 1000);
  const unconcerned = Math.floor(opts.unconcerned ?? perClass);
  const delta = opts.delta ?? DEFAULT_DELTA;
  const rule = opts.rule ?? 'prose';
  const seed = opts.seed ?? 1;
  const points = opts.points?.length ? opts.points : [opts.point ?? DEFAULT_POINT];
  for (const p of points)
    if (!POINTS.includes(p))
      throw new UserError(
        `Unknown observation point "${String(p)}".`,
        `Use one of: ${POINTS.join(', ')}.`,
        'bad-settings',
      );
  const variants = opts.variants?.length ? opts.variants : [{ rule, delta }];
  if (variants.some((v) => !BLN_RULES.includes(v.rule) || !(v.delta >= 0)))
    throw new UserError(
      `Bad MC-BLN variants (${variants.map((v) => `${v.rule} ${v.delta}`).join(', ')}).`,
      `Use the rules ${BLN_RULES.join(', ')} and thresholds delta >= 0.`,
      'bad-settings',
    );
  if (!(perClass >= 1) || !(unconcerned >= 0) || !(delta >= 0)) {
    throw new UserError(
      `Bad decomposition settings (per class ${perClass}, unconcerned ${unconcerned}, delta ${delta}).`,
      'Use at least 1 image per class, 0 or more unconcerned images and delta >= 0.',
      'bad-settings',
    );
  }
  const classNames = opts.classNames ?? Array.from({ length: n }, (_, i) => String(i));
  const t0 = performance.now();
  const { sample, warnings } = sampleClasses(train.labels, n, perClass, seed);
  const k = n > 1 ? Math.ceil(unconcerned / (n - 1)) : 0;
  sample.forEach((s, c) => {
    if (s.length === 0)
      warnings.push(`class ${c} has no training images: its module keeps only what other classes activate`);
    else if (k > s.length)
      warnings.push(
        `class ${c} has ${s.length} sampled images, fewer than the ${k} unconcerned images asked of each class`,
      );
  });
  // One observation pass per engine point, shared by the points that observe alike.
  const observed = new Map<ObservePoint, { obs: Observation; seconds: number }>();
  const engines = [...new Set(points.map(enginePoint))];
  for (const [e, ep] of engines.entries()) {
    // The first pass's time includes the sampling.
    const t = e === 0 ? t0 : performance.now();
    const obs = await observeSample(
      engine,
      train,
      sample,
      k,
      ep,
      (f) => opts.onProgress?.((0.9 * (e + f)) / engines.length, 'Observing'),
      opts.signal,
    );
    observed.set(ep, { obs, seconds: (performance.now() - t) / 1000 });
  }
  const sets: ModuleSet[] = [];
  // CI+TI+MC uses neither the rule nor δ: once per point; the others once per variant.
  const builds = approaches.flatMap((approach) =>
    (approach === 'CI+TI+MC' ? [{ rule, delta }] : variants).map((v) => ({ approach, ...v })),
  );
  const steps = points.length * builds.length;
  points.forEach((point, pi) => {
    const { obs, seconds: observeSeconds } = observed.get(enginePoint(point))!;
    const forced = ciTi(g, { ...obs, point });
    builds.forEach((b, a) => {
      const t1 = performance.now();
      const modules = buildModules(g, forced, b.approach, { rule: b.rule, delta: b.delta, classNames });
      opts.onProgress?.(0.9 + (0.1 * (pi * builds.length + a + 1)) / steps, b.approach);
      sets.push({
        approach: b.approach,
        point,
        delta: b.delta,
        rule: b.rule,
        seed,
        perClass,
        unconcerned,
        k,
        sample,
        warnings,
        parent: { hash: plan.hash, inputShape: plan.input.shape, classes: n, classNames },
        layers: g.layers,
        features: g.features,
        needsFullMasks: g.hiddenDense,
        modules,
        seconds: { observe: observeSeconds, build: (performance.now() - t1) / 1000 },
        engine: engine.name,
        version: DECOMPOSE_VERSION,
      });
    });
  });
  return sets;
}
