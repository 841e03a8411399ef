// The demo's model and data, shared by `decomposer demo`, the app's demo button and the
// wizard's faulty demo model (which keeps the paper's ResNet-20, see wizard/demo.ts). The demo
// model trains until its validation accuracy stops improving (the baselines' patience), at most
// `epochs`. Measured here (seed 1, batch 32, 500 images per class of 'shapes'): ResNet-8 and
// ResNet-20 both get well above 90% validation accuracy before they stop improving, ResNet-8
// in more epochs but at about a third of the cost per epoch, and the scenarios' baselines train
// at the demo's depth too; so the demo trains a ResNet-8 and stays within minutes on 2 cores
// (`--depth 20` trains the paper's). Batch 32 gives the short run twice the updates of batch 64.
import type { DatasetSpec } from '../common/dataset.ts';

export const DEMO_DEFAULTS = {
  depth: 8,
  /** The most epochs (the patience stops it earlier). */
  epochs: 30,
  perClass: 500,
  testPerClass: 100,
  size: 32,
  batch: 32,
  seed: 1,
  /** Concerned (and unconcerned) images per module for the demo's decomposition. */
  decomposePerClass: 200,
} as const;

/** The embedded 'shapes' dataset at the demo's size; a fifth as many test images as training ones. */
export function demoDatasetSpec(
  perClass: number = DEMO_DEFAULTS.perClass,
  seed: number = DEMO_DEFAULTS.seed,
  testPerClass = Math.max(10, Math.round(perClass / 5)),
  size: 32 | 64 = DEMO_DEFAULTS.size,
): DatasetSpec {
  return {
    kind: 'synthetic',
    name: 'shapes',
    size,
    seed,
    trainPerClass: perClass,
    testPerClass,
  };
}
