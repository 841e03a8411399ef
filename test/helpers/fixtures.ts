// Small datasets and models the tests make themselves: datasets in memory and as sources on
// disk, model folders of a ResNet-8 (untrained, or trained one short epoch).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ImageSet, LoadedDataset } from '../../src/core/common/dataset.ts';
import { Rng } from '../../src/core/node/data/random.ts';
import type { MachineInfo } from '../../src/core/node/energy/machine.ts';
import { DEFAULT_SETTINGS } from '../../src/core/node/store/settings.ts';
import type { Store } from '../../src/core/node/store/store.ts';
// The model code (tfjs, the trainer) loads only when a test makes a model.
import type { ModelArtifacts, ModelMeta } from '../../src/core/node/models/io.ts';

/** What a training here writes of a model: a ResNet's metadata. */
type ResNetMeta = Extract<ModelMeta, { architecture: 'resnet' }>;
import type { TrainResult } from '../../src/core/node/train/trainer.ts';
import { tempDir } from './temp.ts';

/** An easy task: each class has its own mean colour, plus noise. Learnable in a few steps. */
export function colourDataset(
  opts: { classes?: number; train?: number; test?: number; size?: number; seed?: number } = {},
): LoadedDataset {
  const classes = opts.classes ?? 4;
  const size = opts.size ?? 16;
  const rng = new Rng(opts.seed ?? 3);
  const per = size * size * 3;
  const make = (n: number): ImageSet => {
    const images = new Uint8Array(n * per);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % classes;
      labels[i] = c;
      for (let k = 0; k < per; k++) {
        const channel = k % 3;
        const base = ((c * (channel + 1) * 67) % 200) + 20;
        images[i * per + k] = Math.min(255, base + rng.int(40));
      }
    }
    return { images, labels, count: n, size };
  };
  const train = make(opts.train ?? 64);
  const test = make(opts.test ?? 16);
  return {
    info: {
      id: `colours-${classes}-${size}`,
      kind: 'synthetic',
      name: 'colours',
      imageSize: size,
      classNames: Array.from({ length: classes }, (_, i) => `colour-${i}`),
      trainCount: train.count,
      testCount: test.count,
      source: 'test fixture',
    },
    train,
    test,
  };
}

// IDX files (the MNIST family's format) as released.

/** An IDX file: the magic number (element type `type`, the dimension count), the dims, the data. */
export function idx(dims: number[], data: Uint8Array, type = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

/** Image k: pixel (y, x) = (k * 7 + y * 3 + x) mod 256, so every image and position differs. */
export function pixels(count: number, side = 28): Uint8Array {
  const out = new Uint8Array(count * side * side);
  for (let k = 0; k < count; k++)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) out[k * side * side + y * side + x] = (k * 7 + y * 3 + x) % 256;
  return out;
}

// Image sources on disk: a Tiny ImageNet tree and an image folder (sharp is loaded only when
// one is written, so the in-memory fixtures above stay light).

type Rgb = [number, number, number];

/** A one-colour JPEG of w x h (grayscale on request). */
export async function jpeg(file: string, w: number, h: number, rgb: Rgb, gray = false): Promise<void> {
  const { default: sharp } = await import('sharp');
  let img = sharp({
    create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  });
  if (gray) img = img.grayscale();
  await img.jpeg({ quality: 100 }).toFile(file);
}

/** The colours of makeTiny's two classes, in wnids order. */
export const TINY_COLOURS: Rgb[] = [
  [200, 30, 30],
  [30, 30, 200],
];

/**
 * A two-class Tiny ImageNet tree under `parent` (3 train images per class, 2 val images; the
 * classes are "Egyptian cat" and "goldfish"); returns its root, parent/tiny-imagenet-200.
 */
export async function makeTiny(parent: string): Promise<string> {
  const root = path.join(parent, 'tiny-imagenet-200');
  const wnids = ['n02', 'n01'];
  mkdirSync(path.join(root, 'val', 'images'), { recursive: true });
  writeFileSync(path.join(root, 'wnids.txt'), wnids.join('\n') + '\n');
  writeFileSync(
    path.join(root, 'words.txt'),
    'n00\tsomething\nn01\tgoldfish, Carassius auratus\nn02\tEgyptian cat\n',
  );
  const colours = TINY_COLOURS;
  for (let c = 0; c < 2; c++) {
    const d = path.join(root, 'train', wnids[c]!, 'images');
    mkdirSync(d, { recursive: true });
    for (let i = 0; i < 3; i++)
      await jpeg(path.join(d, `${wnids[c]}_${i}.JPEG`), 64, 64, colours[c]!, i === 2);
    writeFileSync(path.join(root, 'train', wnids[c]!, `${wnids[c]}_boxes.txt`), '');
  }
  await jpeg(path.join(root, 'val', 'images', 'val_0.JPEG'), 64, 64, colours[1]!);
  await jpeg(path.join(root, 'val', 'images', 'val_1.JPEG'), 64, 64, colours[0]!, true);
  writeFileSync(
    path.join(root, 'val', 'val_annotations.txt'),
    'val_0.JPEG\tn01\t0\t0\t10\t10\nval_1.JPEG\tn02\t1\t2\t3\t4\n',
  );
  return root;
}

/**
 * An image folder in `root` (which must exist) with one sub-folder per class, `per` PNGs
 * each (odd sizes, one colour); returns `root`.
 */
export async function makeFolder(root: string, classes: [string, Rgb][], per = 4): Promise<string> {
  const { default: sharp } = await import('sharp');
  for (const [name, rgb] of classes) {
    mkdirSync(path.join(root, name));
    for (let i = 0; i < per; i++)
      await sharp({
        create: {
          width: 20 + i * 9,
          height: 30 - i,
          channels: 3,
          background: { r: rgb[0], g: rgb[1], b: rgb[2] },
        },
      })
        .png()
        .toFile(path.join(root, name, `${name}${i}.png`));
  }
  return root;
}

/** A machine the store tests record runs on. */
export const FAKE_MACHINE: MachineInfo = {
  hostname: 'test',
  os: 'linux',
  arch: 'x64',
  cpu_model: 'Fake CPU',
  cpu_cores: 2,
  cpu_threads: 4,
  memory_bytes: 8e9,
  gpus: [],
  virtual: false,
};

/**
 * A model folder in `dir` holding `artifacts`, with the metadata a training writes of a
 * ResNet-8 without batch normalisation (`meta` over it).
 */
export async function saveTestModel(
  dir: string,
  artifacts: ModelArtifacts,
  meta: Pick<ResNetMeta, 'inputSize' | 'classes'> & Partial<ResNetMeta>,
): Promise<string> {
  const { DEFAULT_PREPROCESS, saveModelDir } = await import('../../src/core/node/models/io.ts');
  await saveModelDir(dir, artifacts, {
    architecture: 'resnet',
    depth: 8,
    batchNorm: false,
    classNames: Array.from({ length: meta.classes }, (_, i) => `class-${i}`),
    datasetId: 'test',
    preprocess: DEFAULT_PREPROCESS,
    ...meta,
  });
  return dir;
}

/**
 * A ResNet-8 with its initial weights (seeded, untrained), saved as a model folder in `dir`:
 * for what reads models, not what they predict.
 */
export async function untrainedModel(
  dir: string,
  o: { inputSize?: number; classes?: number; seed?: number; meta?: Partial<ResNetMeta> } = {},
): Promise<string> {
  const { buildResNet } = await import('../../src/core/node/models/resnet.ts');
  const { modelToArtifacts } = await import('../../src/core/node/models/io.ts');
  const inputSize = o.inputSize ?? 16;
  const classes = o.classes ?? 4;
  const model = buildResNet({ depth: 8, inputSize, classes, seed: o.seed ?? 1 });
  const artifacts = await modelToArtifacts(model);
  model.dispose();
  return saveTestModel(dir, artifacts, { inputSize, classes, ...o.meta });
}

/**
 * A ResNet-8 trained one epoch (batch 16, one engine) on `data`, in `o.runDir` (default: a new
 * temporary folder), with the trainer's seed unless `o.seed` is given.
 */
export async function trainedTiny(
  data: LoadedDataset,
  o: { runDir?: string; seed?: number } = {},
): Promise<TrainResult> {
  const { train } = await import('../../src/core/node/train/trainer.ts');
  return train({
    runDir: o.runDir ?? tempDir('tiny-model'),
    data,
    workers: 0,
    config: { depth: 8, epochs: 1, batchSize: 16, ...(o.seed !== undefined ? { seed: o.seed } : {}) },
  });
}

/**
 * Where a workflow of the tests records its runs, quickly: no idle measurement (idle power
 * taken as zero), power sampled every 5 ms, one engine, its models and modules under `workDir`.
 */
export function quickRuns(store: Store, workDir: string) {
  return {
    store,
    settings: { ...DEFAULT_SETTINGS, idleSeconds: 0, sampleIntervalMs: 5 },
    idle: { cpuW: 0, dramW: 0, gpuW: 0 },
    workDir,
    workers: 0,
  };
}
