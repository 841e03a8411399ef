// Reuse and replace scenarios (section 3.5 and 4.2.2 of the paper): which modules are
// composed, on which images, and the data a train-from-scratch baseline gets. A scenario is
// a list of classes, each drawn from one of the models involved; its label j is the j-th
// class of that list, in images and in the composed classifier alike.
import type { ImageSet, LoadedDataset } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { Rng } from '../data/random.ts';

export type ScenarioKind = 'intra-reuse' | 'inter-reuse' | 'intra-replace' | 'inter-replace';

/** One class of a scenario: class `classIndex` of source `source` (0: model A, 1: model B). */
export interface ScenarioClass {
  source: number;
  classIndex: number;
}

export interface Scenario {
  kind: ScenarioKind;
  /** Stable key, unique in a grid (resume finds finished rows by it). */
  key: string;
  /** The classes in label order, and which source's module serves each. */
  classes: ScenarioClass[];
  /** For a replace scenario: the label whose module was replaced. */
  replaced?: number;
  /** Which source's images stand for each label (replace: the replaced label's images come from the replacing source when datasets differ). */
  images: ScenarioClass[];
}

/** Gathers the images of the given classes, relabelled 0..k-1 in the order given. */
export function gatherClasses(sets: ImageSet[], picks: ScenarioClass[]): ImageSet {
  const size = sets[picks[0]!.source]!.size;
  const per = size * size * 3;
  const idx: { set: ImageSet; i: number; label: number }[] = [];
  picks.forEach((p, label) => {
    const set = sets[p.source]!;
    if (set.size !== size) {
      throw new UserError(
        `Scenario classes come from datasets of different image sizes (${size} and ${set.size}).`,
        'Modules whose models take different input sizes cannot be composed: pick models of one input size.',
        'incompatible-modules',
      );
    }
    for (let i = 0; i < set.count; i++) if (set.labels[i] === p.classIndex) idx.push({ set, i, label });
  });
  const images = new Uint8Array(idx.length * per);
  const labels = new Int32Array(idx.length);
  idx.forEach((x, k) => {
    images.set(x.set.images.subarray(x.i * per, (x.i + 1) * per), k * per);
    labels[k] = x.label;
  });
  return { images, labels, count: idx.length, size };
}

/** The dataset a baseline trains on: exactly the scenario's classes, relabelled. */
export function scenarioDataset(sources: LoadedDataset[], s: Scenario): LoadedDataset {
  const train = gatherClasses(
    sources.map((d) => d.train),
    s.images,
  );
  const test = gatherClasses(
    sources.map((d) => d.test),
    s.images,
  );
  const classNames = s.images.map(
    (c) => `${sources[c.source]!.info.name}:${sources[c.source]!.info.classNames[c.classIndex]}`,
  );
  const first = sources[0]!.info;
  return {
    info: {
      id: `scenario-${s.images.map((c) => `${sources[c.source]!.info.id}#${c.classIndex}`).join('+')}`,
      kind: first.kind,
      name: `${s.kind} ${classNames.join(', ')}`,
      imageSize: first.imageSize,
      classNames,
      trainCount: train.count,
      testCount: test.count,
      source: s.key,
    },
    train,
    test,
  };
}

/** k distinct classes out of n, seeded. */
export function pickClasses(n: number, k: number, rng: Rng): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  rng.shuffle(all);
  return all.slice(0, Math.min(k, n)).sort((a, b) => a - b);
}

/**
 * Table 2's grid: `pick` classes chosen at random (paper: 4), every pair of them (paper: 6
 * pairs), each pair composed from one model's modules.
 */
export function intraReuseGrid(classes: number, seed: number, pick = 4): Scenario[] {
  const chosen = pickClasses(classes, pick, new Rng(seed));
  const out: Scenario[] = [];
  for (let a = 0; a < chosen.length; a++) {
    for (let b = a + 1; b < chosen.length; b++) {
      const cls = [
        { source: 0, classIndex: chosen[a]! },
        { source: 0, classIndex: chosen[b]! },
      ];
      out.push({
        kind: 'intra-reuse',
        key: `intra-reuse:${chosen[a]}-${chosen[b]}`,
        classes: cls,
        images: cls,
      });
    }
  }
  return out;
}

/** Table 3's grid: `pairs` pairs of one class of model A's dataset and one of model B's. */
export function interReuseGrid(classesA: number, classesB: number, seed: number, pairs = 6): Scenario[] {
  const rng = new Rng(seed ^ 0x1e7e);
  const seen = new Set<string>();
  const out: Scenario[] = [];
  for (let tries = 0; out.length < Math.min(pairs, classesA * classesB) && tries < 1000; tries++) {
    const a = rng.int(classesA);
    const b = rng.int(classesB);
    if (seen.has(`${a}-${b}`)) continue;
    seen.add(`${a}-${b}`);
    const cls = [
      { source: 0, classIndex: a },
      { source: 1, classIndex: b },
    ];
    out.push({ kind: 'inter-reuse', key: `inter-reuse:${a}-${b}`, classes: cls, images: cls });
  }
  return out;
}

/** Table 4's grid: in model A's set, class x's module replaced by model B's (same dataset). */
export function intraReplaceGrid(classes: number, only?: number[]): Scenario[] {
  const xs = only ?? Array.from({ length: classes }, (_, i) => i);
  return xs.map((x) => {
    const cls = Array.from({ length: classes }, (_, c) => ({ source: c === x ? 1 : 0, classIndex: c }));
    const images = Array.from({ length: classes }, (_, c) => ({ source: 0, classIndex: c }));
    return { kind: 'intra-replace' as const, key: `intra-replace:${x}`, classes: cls, replaced: x, images };
  });
}

/**
 * Table 5's grid: class x of model A's set replaced by class y of model B's (another
 * dataset); the label x now stands for B's class y, in the modules and the test images.
 */
export function interReplaceGrid(classesA: number, classesB: number, seed: number, count = 3): Scenario[] {
  const rng = new Rng(seed ^ 0x4e91);
  const xs = pickClasses(classesA, count, rng);
  return xs.map((x) => {
    const y = rng.int(classesB);
    const cls = Array.from({ length: classesA }, (_, c) =>
      c === x ? { source: 1, classIndex: y } : { source: 0, classIndex: c },
    );
    return {
      kind: 'inter-replace' as const,
      key: `inter-replace:${x}-${y}`,
      classes: cls,
      replaced: x,
      images: cls,
    };
  });
}
