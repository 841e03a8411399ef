// A module's pass against the model's on onnxruntime: the model's plain graph, the shared
// masked graph (mask inputs at every Conv2D/Dense layer, what a pass over few images runs on)
// and the module's masks folded into its weights (graph/fold.ts), over the same test images;
// and how much of a composed evaluation's work repeats between modules (equal masks in every
// layer up to one: a prefix two modules could share).
import type { ImageSet } from '../../common/dataset.ts';
import { maskOf } from '../decompose/compose.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import { foldMasks } from '../graph/fold.ts';
import type { ModelPlan } from '../graph/plan.ts';
import {
  FOLD_MIN_LAYER_IMAGES,
  OrtInference,
  type InferenceEngine,
  type MaskSet,
} from '../inference/index.ts';
import type { Emit } from './figure.ts';

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const ROUNDS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function seconds(step: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await step();
  return (performance.now() - t0) / 1000;
}

/** The share of module-layer passes whose masks, in that layer and every one before it, an earlier module has. */
function sharedPrefixShare(plan: ModelPlan, set: ModuleSet, masks: MaskSet[]): number {
  const layers = set.layers.map((l) => l.name);
  const order = plan.nodes.map((n) => n.name).filter((n) => layers.includes(n));
  let repeated = 0;
  const prefixes = masks.map(() => '');
  for (const name of order) {
    const seen = new Set<string>();
    masks.forEach((m, i) => {
      const v = m.get(name);
      prefixes[i] +=
        `|${name}:${v ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : '1'}`;
      if (seen.has(prefixes[i]!)) repeated++;
      seen.add(prefixes[i]!);
    });
  }
  return order.length && masks.length ? repeated / (order.length * masks.length) : 0;
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
  const spared = plan.maskable.length - folded.masks.size;
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
    // A pass runs folded from this many images on (FOLD_MIN_LAYER_IMAGES / layers spared a mask).
    folds_from_images: spared > 0 ? Math.ceil(FOLD_MIN_LAYER_IMAGES / spared) : null,
    model_images_per_second: Math.round(n / model),
    masked_images_per_second: Math.round(n / masked),
    folded_images_per_second: Math.round(n / fold),
    masked_time_over_model: round(masked / model, 2),
    folded_time_over_model: round(fold / model, 2),
    folded_compile_and_pass_over_model: round(first / model, 2),
    rounds: ROUNDS,
    composed_layer_passes_in_shared_prefixes: round(sharedPrefixShare(plan, set, masks)),
  });
}
