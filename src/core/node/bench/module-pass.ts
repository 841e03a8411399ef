// A module's pass against the model's on onnxruntime: the model's plain graph, the shared
// masked graph (mask inputs at every Conv2D/Dense layer, what a pass over few images runs on)
// and the module's masks folded into its weights (graph/fold.ts), over the same test images;
// and a composed evaluation of all modules, with the work their passes share computed once
// (inference/passes.ts) and without, against n model passes.
import type { ImageSet } from '../../common/dataset.ts';
import { composedScores, maskOf } from '../decompose/compose.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import { foldMasks } from '../graph/fold.ts';
import { loadOrt } from '../graph/ort.ts';
import { nchwcBlockSize } from '../graph/nchwc.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { PassKeys, type ModelPass } from '../inference/passes.ts';
import {
  FOLD_MIN_LAYER_IMAGES,
  OrtInference,
  sparedLayers,
  type InferenceEngine,
} from '../inference/index.ts';
import type { Emit } from './figure.ts';

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const ROUNDS = 5;
const COMPOSED_ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function seconds(step: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await step();
  return (performance.now() - t0) / 1000;
}

export async function modulePassFigure(
  emit: Emit,
  engine: InferenceEngine,
  plan: ModelPlan,
  set: ModuleSet,
  test: ImageSet,
): Promise<void> {
  if (!(engine instanceof OrtInference)) return;
  const masks = set.modules.map((m) => maskOf(set, m, false));
  const module = masks[0]!;
  const folded = foldMasks(plan, module);
  const spared = sparedLayers(plan.maskable.length, folded, await nchwcBlockSize(await loadOrt()));
  const n = test.count;
  const shared = () => engine.predictMaskedOn('shared', test.images, n, module);
  const foldedPass = () => engine.predictMaskedOn('folded', test.images, n, module);
  await engine.predict(test.images, Math.min(n, 64)); // warm-up
  await engine.predictMaskedOn('shared', test.images, Math.min(n, 64), module);
  // The first folded pass compiles the module's graph; the others run on it.
  const first = await seconds(foldedPass);
  // Rounds of the three in turn, medians: on a busy machine, each side sees the same load.
  const runs: { model: number[]; masked: number[]; folded: number[] } = { model: [], masked: [], folded: [] };
  for (let r = 0; r < ROUNDS; r++) {
    runs.model.push(await seconds(() => engine.predict(test.images, n)));
    runs.masked.push(await seconds(shared));
    runs.folded.push(await seconds(foldedPass));
  }
  const [model, masked, fold] = [median(runs.model), median(runs.masked), median(runs.folded)];
  emit({
    figure: 'module_pass',
    engine: engine.name,
    approach: set.approach,
    test_images: n,
    maskable_layers: plan.maskable.length,
    layers_folded: folded.folded.length,
    layers_masked_by_position: folded.masks.size,
    // A pass runs folded from this many images on (FOLD_MIN_LAYER_IMAGES / layers spared a multiplication).
    folds_from_images: spared > 0 ? Math.ceil(FOLD_MIN_LAYER_IMAGES / spared) : null,
    model_images_per_second: Math.round(n / model),
    masked_images_per_second: Math.round(n / masked),
    folded_images_per_second: Math.round(n / fold),
    masked_time_over_model: round(masked / model, 2),
    folded_time_over_model: round(fold / model, 2),
    folded_compile_and_pass_over_model: round(first / model, 2),
    rounds: ROUNDS,
  });
  await composedFigure(emit, engine, plan, set, test);
}

/**
 * All modules' composed evaluation of the test images, with the work their passes share
 * computed once and each module's pass on its own, against n model passes (medians of rounds
 * in turn, each evaluation folding and compiling what it runs).
 */
async function composedFigure(
  emit: Emit,
  engine: OrtInference,
  plan: ModelPlan,
  set: ModuleSet,
  test: ImageSet,
): Promise<void> {
  const n = test.count;
  const compose = (share: boolean) => composedScores([{ engine, set }], test.images, n, { share });
  const runs: { model: number[]; shared: number[]; alone: number[] } = { model: [], shared: [], alone: [] };
  let passes = 0;
  for (let r = 0; r < COMPOSED_ROUNDS; r++) {
    runs.model.push(await seconds(() => engine.predict(test.images, n)));
    runs.shared.push(await seconds(async () => (passes = (await compose(true)).passes)));
    runs.alone.push(await seconds(() => compose(false)));
  }
  const modules = set.modules.length;
  const [model, shared, alone] = [median(runs.model) * modules, median(runs.shared), median(runs.alone)];
  // The share of the passes' node computations that another pass spares (modules with equal
  // masks share one pass already: one each).
  const folds = new Map<string, ModelPass>();
  for (const m of set.modules) {
    const f = foldMasks(plan, maskOf(set, m, false));
    folds.set(f.plan.hash, { plan: f.plan, masks: f.masks });
  }
  const keys = new PassKeys([...folds.values()]);
  emit({
    figure: 'composed_passes',
    engine: engine.name,
    approach: set.approach,
    modules,
    passes,
    test_images: n,
    n_model_passes_seconds: round(model),
    shared_seconds: round(shared),
    unshared_seconds: round(alone),
    shared_over_n_model_passes: round(shared / model, 2),
    unshared_over_n_model_passes: round(alone / model, 2),
    computations_shared: round(keys.shared()),
    rounds: COMPOSED_ROUNDS,
  });
}
