// The decomposition figures: decomposing all modules of a 10-class ResNet (or of a model
// folder, on random images of its input and classes; per class: N concerned + N unconcerned
// observations) against one training epoch on the same images, at the training rate measured
// earlier in this run; composed evaluation of all modules on the
// test set; one module's pass against the model's (module-pass.ts); and one module set as
// portable ONNX models (their sizes and the composed classifier's speed against the model's
// own graph).
import type { ImageSet } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { generateSynthetic } from '../data/index.ts';
import { Rng } from '../data/random.ts';
import { PIXEL_CHANNELS } from '../graph/inputs.ts';
import { composedOnnx, moduleOnnx, table1 } from '../decompose/index.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import { loadOrt } from '../graph/ort.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import { openInference } from '../inference/index.ts';
import { convertToOnnx } from '../inference/convert.ts';
import { DEFAULT_PREPROCESS, modelToArtifacts, type ModelArtifacts, type Preprocess } from '../models/io.ts';
import { buildResNet } from '../models/resnet.ts';
import type { Emit } from './figure.ts';
import { modulePassFigure } from './module-pass.ts';
import type { BenchRun } from './run.ts';

/** What the decomposition figures run on, and what they say of it. */
interface DecompositionInput {
  artifacts: ModelArtifacts;
  preprocess: Preprocess;
  train: ImageSet;
  test: ImageSet;
  /** What the decomposition figure says of the model and its images. */
  about: Record<string, unknown>;
  /** What the other figures say of the model. */
  named: Record<string, unknown>;
}

/** The most bytes of random images the bench makes for a model folder's decomposition figures. */
const RANDOM_IMAGES_MAX = 2 ** 30;

/** Random pixels, labels cycling over `classes`. */
function randomSet(rng: Rng, count: number, size: number, classes: number): ImageSet {
  const images = new Uint8Array(count * size * size * PIXEL_CHANNELS);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = Int32Array.from({ length: count }, (_, i) => i % classes);
  return { images, labels, count, size };
}

/**
 * A model folder's decomposition input: random pixels at its input side over its classes,
 * --per-class concerned (and as many unconcerned) images per class and about 1000 test images,
 * as the ResNet's figures take them: the time does not depend on what the pixels show.
 */
function folderInput(run: BenchRun): DecompositionInput | UserError {
  const { perClass } = run.settings;
  const { model, label } = run;
  const { size, classes } = model;
  const testPerClass = Math.ceil(1000 / classes);
  const image = size * size * PIXEL_CHANNELS;
  const bytes = (perClass + testPerClass) * classes * image;
  if (bytes > RANDOM_IMAGES_MAX) {
    const fits = Math.floor(RANDOM_IMAGES_MAX / (classes * image)) - testPerClass;
    return new UserError(
      `The decomposition figures would take ${perClass} + ${testPerClass} random ${size}x${size} images for each of its ${classes} classes: ${(bytes / 2 ** 30).toFixed(1)} GiB, over the ${RANDOM_IMAGES_MAX / 2 ** 30} GiB the bench makes.`,
      fits >= 1
        ? `Give --per-class ${fits} or less.`
        : 'Its input and classes are too many for these figures; leave out --decomposition.',
      'bench-images',
    );
  }
  const rng = new Rng(11);
  return {
    artifacts: model.artifacts,
    preprocess: model.preprocess,
    train: randomSet(rng, perClass * classes, size, classes),
    test: randomSet(rng, testPerClass * classes, size, classes),
    about: { ...label, classes, images: 'synthetic (random pixels: the time, not the modules, is measured)' },
    named: label,
  };
}

/** The ResNet's decomposition input: the embedded shapes dataset, 10 classes. */
async function resnetInput(run: BenchRun): Promise<DecompositionInput> {
  const { depth, size, perClass } = run.settings;
  const data = generateSynthetic('shapes', size === 64 ? 64 : 32, {
    trainPerClass: perClass,
    testPerClass: 100,
  });
  const m = buildResNet({ depth, inputSize: data.info.imageSize, classes: 10, seed: 1 });
  const artifacts = await modelToArtifacts(m);
  m.dispose();
  return {
    artifacts,
    preprocess: DEFAULT_PREPROCESS,
    train: data.train,
    test: data.test,
    about: { depth, size: data.info.imageSize, classes: 10 },
    named: { depth },
  };
}

export async function decompositionFigures(run: BenchRun): Promise<void> {
  const { perClass } = run.settings;
  const { emit } = run;
  const folder = run.model.folder !== null;
  const input = folder ? folderInput(run) : await resnetInput(run);
  if (input instanceof UserError) return run.refused('decomposition', run.label, input);
  const { artifacts: art, preprocess, train, test } = input;
  // The figures made elsewhere name a folder's model too, right after their name.
  const named: Emit = folder ? ({ figure, ...rest }) => emit({ figure, ...input.named, ...rest }) : emit;
  const engine = await openInference(art, { preprocess });
  try {
    const t = await table1(engine, planModel(art), train, test, { perClass, seed: 1 });
    const seconds = t.observeSeconds + Math.max(...t.sets.map((x) => x.seconds.build));
    const epochSeconds = run.bestTrainingRate > 0 ? train.count / run.bestTrainingRate : null;
    emit({
      figure: 'decomposition',
      engine: engine.name,
      ...input.about,
      concerned_per_class: perClass,
      unconcerned_per_class: perClass,
      approaches: t.sets.length,
      seconds: Math.round(seconds * 100) / 100,
      epoch_images: train.count,
      epoch_seconds_at_measured_training_rate: epochSeconds && Math.round(epochSeconds * 10) / 10,
      ratio_to_one_epoch: epochSeconds && Math.round((seconds / epochSeconds) * 1000) / 1000,
    });
    emit({
      figure: 'composed_evaluation',
      engine: engine.name,
      ...input.named,
      modules: t.sets.reduce((n, x) => n + x.modules.length, 0),
      test_images: test.count,
      module_evaluations_per_second: Math.round(t.moduleEvaluationsPerSecond),
      ratio_to_n_model_evaluations: Math.round(t.composeRatio * 1000) / 1000,
    });
    await modulePassFigure(named, engine, planModel(art), t.sets[0]!, test);
    await portableFigure(named, planModel(art), preprocess, t.sets[0]!, test);
  } finally {
    await engine.close();
  }
}

/**
 * A module set as portable ONNX models (decompose --export-onnx): file sizes, and the
 * composed classifier's inference speed against the model's own graph, both on
 * onnxruntime-node over the same test images.
 */
async function portableFigure(
  emit: Emit,
  plan: ModelPlan,
  pre: Preprocess,
  set: ModuleSet,
  test: ImageSet,
): Promise<void> {
  const moduleBytes = set.modules.map((x) => moduleOnnx(plan, pre, x).byteLength);
  const composed = composedOnnx(plan, pre, set);
  const model = convertToOnnx(plan, { input: 'uint8', preprocess: pre });
  const ort = await loadOrt();
  const rate = async (bytes: Uint8Array): Promise<number> => {
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
    try {
      const n = test.count;
      const s = test.size;
      const pixels = new ort.Tensor('uint8', test.images.subarray(0, n * s * s * PIXEL_CHANNELS), [
        n,
        s,
        s,
        PIXEL_CHANNELS,
      ]);
      await session.run({ pixels }); // warm-up
      const t0 = performance.now();
      await session.run({ pixels });
      return n / ((performance.now() - t0) / 1000);
    } finally {
      await session.release();
    }
  };
  const modelRate = await rate(model);
  const composedRate = await rate(composed);
  emit({
    figure: 'portable_modules',
    approach: set.approach,
    modules: set.modules.length,
    model_bytes: model.byteLength,
    module_bytes_min: Math.min(...moduleBytes),
    module_bytes_max: Math.max(...moduleBytes),
    composed_bytes: composed.byteLength,
    model_images_per_second: Math.round(modelRate),
    composed_images_per_second: Math.round(composedRate),
    composed_time_over_model: Math.round((modelRate / composedRate) * 100) / 100,
  });
}
