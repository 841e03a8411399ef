// A module's pass against the model's: the model's plain graph, the shared masked graph (mask
// inputs at every Conv2D/Dense layer, what a pass over few images runs on) and the module's
// masks folded into its weights (graph/fold.ts), over the same test images on onnxruntime;
// and how much of a composed evaluation's work repeats between modules (equal masks in every
// layer up to one: a prefix two modules could share).
import type { ImageSet } from '../../common/dataset.ts';
import { maskOf } from '../decompose/compose.ts';
import type { ModuleSet } from '../decompose/decompose.ts';
import { foldMasks } from '../graph/fold.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { FOLD_MIN_IMAGES, type InferenceEngine, type MaskSet } from '../inference/index.ts';
import type { Emit } from './figure.ts';

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const ROUNDS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function seconds(step: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await step();
  return (performance.now() - t0) / 1000;
}

/** The same masked pass in runs below FOLD_MIN_IMAGES images: the shared masked graph. */
async function sharedMasked(engine: InferenceEngine, test: ImageSet, masks: MaskSet): Promise<void> {
  const per = test.size * test.size * 3;
  const step = Math.max(1, Math.floor(FOLD_MIN_IMAGES / 2));
  for (let a = 0; a < test.count; a += step) {
    const n = Math.min(step, test.count - a);
    await engine.predictMasked(test.images.subarray(a * per, (a + n) * per), n, masks);
  }
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
  const masks = set.modules.map((m) => maskOf(set, m, false));
  const module = masks[0]!;
  const folded = foldMasks(plan, module);
  await engine.predict(test.images, Math.min(test.count, 64)); // warm-up
  await sharedMasked(engine, { ...test, count: Math.min(test.count, 64) }, module);
  // The first folded pass compiles the module's graph; the others run on it.
  const first = await seconds(() => engine.predictMasked(test.images, test.count, module));
  // Rounds of the three in turn, medians: on a busy machine, each side sees the same load.
  const runs: { model: number[]; masked: number[]; folded: number[] } = { model: [], masked: [], folded: [] };
  for (let r = 0; r < ROUNDS; r++) {
    runs.model.push(await seconds(() => engine.predict(test.images, test.count)));
    runs.masked.push(await seconds(() => sharedMasked(engine, test, module)));
    runs.folded.push(await seconds(() => engine.predictMasked(test.images, test.count, module)));
  }
  const [model, masked, foldedPass] = [median(runs.model), median(runs.masked), median(runs.folded)];
  emit({
    figure: 'module_pass',
    engine: engine.name,
    approach: set.approach,
    test_images: test.count,
    fold_min_images: FOLD_MIN_IMAGES,
    maskable_layers: plan.maskable.length,
    layers_folded: folded.folded.length,
    layers_masked_by_position: folded.masks.size,
    model_images_per_second: Math.round(test.count / model),
    masked_images_per_second: Math.round(test.count / masked),
    folded_images_per_second: Math.round(test.count / foldedPass),
    masked_time_over_model: round(masked / model, 2),
    folded_time_over_model: round(foldedPass / model, 2),
    folded_first_pass_over_model: round(first / model, 2),
    rounds: ROUNDS,
    composed_layer_passes_in_shared_prefixes: round(sharedPrefixShare(plan, set, masks)),
  });
}
