// The decomposition figures: decomposing all modules of a 10-class ResNet (per class: N
// concerned + N unconcerned observations) against one training epoch on the same images, at
// the training rate measured earlier in this run; composed evaluation of all modules on the
// test set; and one module set as portable ONNX models (their sizes and the composed
// classifier's speed against the model's own graph).
import type { ImageSet } from '../../common/dataset.ts';
import { generateSynthetic } from '../data/index.ts';
import { composedOnnx, moduleOnnx, table1 } from '../decompose/index.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import { loadOrt } from '../graph/ort.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import { openInference } from '../inference/index.ts';
import { convertToOnnx } from '../inference/convert.ts';
import { DEFAULT_PREPROCESS, modelToArtifacts } from '../models/io.ts';
import { buildResNet } from '../models/resnet.ts';
import type { Emit } from './figure.ts';
import type { BenchRun } from './run.ts';

export async function decompositionFigures(run: BenchRun): Promise<void> {
  const { depth, size, perClass } = run.settings;
  const { emit } = run;
  const data = generateSynthetic('shapes', size === 64 ? 64 : 32, {
    trainPerClass: perClass,
    testPerClass: 100,
  });
  const m = buildResNet({ depth, inputSize: data.info.imageSize, classes: 10, seed: 1 });
  const art = await modelToArtifacts(m);
  m.dispose();
  const engine = await openInference(art, { preprocess: DEFAULT_PREPROCESS });
  try {
    const t = await table1(engine, planModel(art), data.train, data.test, { perClass, seed: 1 });
    const seconds = t.observeSeconds + Math.max(...t.sets.map((x) => x.seconds.build));
    const epochSeconds = run.bestTrainingRate > 0 ? data.train.count / run.bestTrainingRate : null;
    emit({
      figure: 'decomposition',
      engine: engine.name,
      depth,
      size: data.info.imageSize,
      classes: 10,
      concerned_per_class: perClass,
      unconcerned_per_class: perClass,
      approaches: t.sets.length,
      seconds: Math.round(seconds * 100) / 100,
      epoch_images: data.train.count,
      epoch_seconds_at_measured_training_rate: epochSeconds && Math.round(epochSeconds * 10) / 10,
      ratio_to_one_epoch: epochSeconds && Math.round((seconds / epochSeconds) * 1000) / 1000,
    });
    emit({
      figure: 'composed_evaluation',
      engine: engine.name,
      depth,
      modules: t.sets.reduce((n, x) => n + x.modules.length, 0),
      test_images: data.test.count,
      module_evaluations_per_second: Math.round(t.moduleEvaluationsPerSecond),
      ratio_to_n_model_evaluations: Math.round(t.composeRatio * 1000) / 1000,
    });
    await portableFigure(emit, planModel(art), t.sets[0]!, data.test);
  } finally {
    await engine.close();
  }
}

/**
 * A module set as portable ONNX models (decompose --export-onnx): file sizes, and the
 * composed classifier's inference speed against the model's own graph, both on
 * onnxruntime-node over the same test images.
 */
async function portableFigure(emit: Emit, plan: ModelPlan, set: ModuleSet, test: ImageSet): Promise<void> {
  const moduleBytes = set.modules.map((x) => moduleOnnx(plan, DEFAULT_PREPROCESS, x).byteLength);
  const composed = composedOnnx(plan, DEFAULT_PREPROCESS, set);
  const model = convertToOnnx(plan, { input: 'uint8', preprocess: DEFAULT_PREPROCESS });
  const ort = await loadOrt();
  const rate = async (bytes: Uint8Array): Promise<number> => {
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
    try {
      const n = test.count;
      const s = test.size;
      const pixels = new ort.Tensor('uint8', test.images.subarray(0, n * s * s * 3), [n, s, s, 3]);
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
