// What the importer's tests share: the ONNX fixtures' reference images as files and as a
// dataset of the model's size, the probabilities a reference implies (its logits softmaxed),
// and the two-node head probabilities of a module that removes nothing.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Fixture } from '../fixtures/onnx/fixtures.ts';
import { recipePixels } from '../fixtures/onnx/fixtures.ts';
import { idx, makeFolder } from './fixtures.ts';
import { Rng } from '../../src/core/node/data/random.ts';
import { planModel } from '../../src/core/node/graph/plan.ts';
import { saveModelDir, type ModelMeta, type PlanArtifacts } from '../../src/core/node/models/io.ts';
import type { PlanNodeSpec } from '../../src/core/node/models/schema.ts';

type OnnxSource = Extract<Extract<ModelMeta, { architecture: 'imported' }>['source'], { format: 'onnx' }>;

/** The recipe's pixels as RGB images (a grey recipe's value in all three channels). */
export function rgbPixels(fx: Fixture): Uint8Array {
  const px = recipePixels(fx.images!);
  if (fx.images!.channels === 3) return px;
  return Uint8Array.from({ length: px.length * 3 }, (_, i) => px[Math.floor(i / 3)]!);
}

/** Writes the recipe's images as PNGs (lossless, grey where the recipe is); returns their paths. */
export async function recipePngs(fx: Fixture, dir: string): Promise<string[]> {
  const { default: sharp } = await import('sharp');
  const r = fx.images!;
  const px = recipePixels(r);
  const per = r.height * r.width * r.channels;
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < r.count; i++) {
    const file = path.join(dir, `${fx.name}-${i}.png`);
    await sharp(Buffer.from(px.subarray(i * per, (i + 1) * per)), {
      raw: { width: r.width, height: r.height, channels: r.channels },
    })
      .png()
      .toFile(file);
    files.push(file);
  }
  return files;
}

/** The class probabilities a reference row stands for (logits and log-probabilities softmaxed). */
export function probabilities(fx: Fixture, row: readonly number[]): number[] {
  if (fx.output === 'probabilities') return [...row];
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * Each class's module probability for a module that removes nothing: softmax over the
 * channeled head [z_c, mean of the other z], from the row's logits (for probabilities, their
 * logarithms: the same up to a constant, which the difference cancels).
 */
export function moduleProbabilities(fx: Fixture, row: readonly number[]): number[] {
  const z = fx.output === 'probabilities' ? row.map(Math.log) : [...row];
  return z.map((zc) => {
    const zuc = (z.reduce((a, b) => a + b, 0) - zc) / (z.length - 1);
    return 1 / (1 + Math.exp(zuc - zc));
  });
}

/** A folder dataset of four colours (red, green, blue, grey) in a new folder `dir`. */
export function fourColours(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  return makeFolder(dir, [
    ['red', [200, 30, 30]],
    ['green', [30, 200, 30]],
    ['blue', [30, 30, 200]],
    ['grey', [120, 120, 120]],
  ]);
}

/** Where an imported model came from, as an ONNX import records it (`over` over it). */
export function importSource(over: Partial<OnnxSource> = {}): OnnxSource {
  return {
    file: 'model.onnx',
    sha256: '0'.repeat(64),
    bytes: 1,
    format: 'onnx',
    producer: { name: 'test', version: '1' },
    opset: 17,
    irVersion: 8,
    layout: 'nchw',
    output: 'logits',
    batchNorm: 'none',
    importedAt: '2025-01-01T00:00:00.000Z',
    ...over,
  };
}

/** An MNIST-family dataset (IDX files) of the given 28x28 grey images, as both splits; 10 classes. */
export function mnistDataset(dir: string, images: Uint8Array, count: number): string {
  mkdirSync(dir, { recursive: true });
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  for (const prefix of ['train', 't10k']) {
    writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), idx([count, 28, 28], images));
    writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), idx([count], labels));
  }
  return dir;
}

/** A folder dataset of 10 one-colour classes (5 images each). */
export async function tenColours(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  return makeFolder(
    dir,
    Array.from(
      { length: 10 },
      (_, c) =>
        [`c${c}`, [(c * 53) % 256, (c * 97) % 256, (c * 31) % 256]] as [string, [number, number, number]],
    ),
    5,
  );
}

export /** A stored plan of `nodes` over a [size, size, channels] input, its weights drawn (seeded) as `shapes` says. */
function storedPlan(
  channels: number,
  size: number,
  nodes: PlanNodeSpec[],
  shapes: Record<string, number[]>,
  seed: number,
): PlanArtifacts {
  const rng = new Rng(seed);
  const weightSpecs = Object.entries(shapes).map(([name, shape]) => ({
    name,
    shape,
    dtype: 'float32' as const,
  }));
  const total = weightSpecs.reduce((s, w) => s + w.shape.reduce((p, x) => p * x, 1), 0);
  const data = Float32Array.from({ length: total }, () => (rng.next() * 2 - 1) * 0.5);
  return {
    kind: 'plan',
    plan: {
      input: 'in',
      output: 'probs',
      nodes: [{ name: 'in', className: 'InputLayer', inputs: [], shape: [size, size, channels] }, ...nodes],
    },
    weightSpecs,
    weightData: data.buffer,
  };
}

/**
 * An imported model with a softmax inside (softmax trains only as the output: no training
 * rule takes it elsewhere), 6x6 RGB inputs, 4 classes, saved as a model folder in `dir`.
 */
export async function untrainableModel(dir: string): Promise<string> {
  const artifacts = storedPlan(
    3,
    6,
    [
      { name: 'c', className: 'Conv2D', inputs: ['in'], strides: [1, 1], pads: [0, 0, 0, 0] },
      { name: 'f', className: 'Flatten', inputs: ['c'] },
      { name: 'd1', className: 'Dense', inputs: ['f'] },
      { name: 'mid', className: 'Softmax', inputs: ['d1'] },
      { name: 'd2', className: 'Dense', inputs: ['mid'] },
      { name: 'probs', className: 'Softmax', inputs: ['d2'] },
    ],
    { 'c/kernel': [3, 3, 3, 2], 'd1/kernel': [32, 5], 'd2/kernel': [5, 4] },
    7,
  );
  await saveModelDir(dir, artifacts, {
    architecture: 'imported',
    source: importSource({ file: 'odd.onnx', output: 'probabilities' }),
    inputSize: 6,
    classes: planModel(artifacts).classes,
    classNames: ['a', 'b', 'c', 'd'],
    datasetId: 'none',
    preprocess: { scale: '0..1', mean: 0.5, std: 0.25 },
  });
  return dir;
}
