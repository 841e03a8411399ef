// Continuous learning (section 3.5): a module reused beside modules of another dataset was
// never shown that dataset's classes. Tangling identification is re-applied with those
// classes as the unconcerned inputs: nodes that respond to them but to none of the module's
// own (concerned) sample are removed, so the module stops answering for them. The original
// module is left untouched, and it costs forward passes only.
import type { ImageSet } from '../../common/dataset.ts';
import type { InferenceEngine } from '../inference/types.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { analyzeGraph } from '../decompose/graph.ts';
import { countOnes } from '../decompose/bitset.ts';
import { ciTargets, enginePoint, gather, type ModuleData, type ModuleSet } from '../decompose/decompose.ts';

/**
 * The module of `classIndex` in `set` (decomposed from the model behind `engine`), with the
 * nodes removed that `unconcerned` images (the other dataset's classes) activate and its own
 * recorded concerned sample does not.
 */
export async function continualModule(
  engine: InferenceEngine,
  plan: ModelPlan,
  set: ModuleSet,
  classIndex: number,
  ownTrain: ImageSet,
  unconcerned: { images: Uint8Array; count: number },
): Promise<ModuleData> {
  const original = set.modules.find((m) => m.classIndex === classIndex);
  if (!original) throw new Error(`no module for class ${classIndex}`);
  const g = analyzeGraph(plan);
  const own = set.sample[classIndex] ?? [];
  const point = enginePoint(set.point);
  const concerned = await engine.observe(gather(ownTrain, own), own.length, { point });
  const other = await engine.observe(unconcerned.images, unconcerned.count, { point });
  const maskNames = new Set(set.layers.map((l) => l.name));
  const removed = new Map([...original.removed].map(([k, v]) => [k, v.slice()]));
  const forced = new Map([...original.forced].map(([k, v]) => [k, v.slice()]));
  for (const [key, act] of other) {
    const mine = concerned.get(key)!;
    const targets = ciTargets(g, set.point, key, maskNames);
    for (const t of targets) {
      const r = removed.get(t)!;
      const f = forced.get(t)!;
      for (let i = 0; i < act.length; i++) {
        if (act[i] && !mine[i]) {
          r[i] = 1;
          f[i] = 1;
        }
      }
    }
  }
  let gone = 0;
  for (const v of removed.values()) gone += countOnes(v);
  const kept = original.total - gone;
  return { ...original, removed, forced, kept, ji: original.total ? kept / original.total : 1 };
}
