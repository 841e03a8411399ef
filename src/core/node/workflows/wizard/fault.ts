// The fault a wizard session repairs: the model's confusion on the test set, the pair (given,
// or the worst), and the accuracies every option is judged by.
import type { ImageSet } from '../../../common/dataset.ts';
import { UserError } from '../../../common/errors.ts';
import type { InferenceEngine } from '../../inference/types.ts';
import { argmaxRows, topKAccuracy } from '../../train/metrics.ts';
import { accuracyExcept, confusionMatrix, confusionRate, mostConfusedPair } from '../../wizard/analysis.ts';
import type { Accuracy, Fault, WizardSpec } from './types.ts';

/** Top-1/top-5 over every class, the pair's confusion and the other classes' top-1. */
export function judge(
  scores: Float32Array,
  test: ImageSet,
  n: number,
  f: Pick<Fault, 'faulty' | 'victim'>,
): Accuracy {
  const pred = argmaxRows(scores, n);
  return {
    top1: topKAccuracy(scores, test.labels, n, 1),
    top5: topKAccuracy(scores, test.labels, n, Math.min(5, n)),
    confusion: confusionRate(pred, test.labels, f.victim, f.faulty),
    other_top1: accuracyExcept(pred, test.labels, [f.victim, f.faulty]),
  };
}

/** The model's confusion on the test set and the pair to repair (given, or the worst). */
export async function findFault(
  base: InferenceEngine,
  spec: WizardSpec,
  say: (line: string) => void,
): Promise<Fault> {
  const names = spec.data.info.classNames;
  const n = names.length;
  const test = spec.data.test;
  const probs = await base.predict(test.images, test.count);
  const pred0 = argmaxRows(probs, n);
  const matrix = confusionMatrix(pred0, test.labels, n);
  const suggested = mostConfusedPair(matrix);
  const faulty = spec.faulty ?? suggested.faulty;
  const victim = spec.victim ?? (spec.faulty === undefined ? suggested.victim : mostVictimOf(matrix, faulty));
  for (const [what, c] of [
    ['faulty', faulty],
    ['victim', victim],
  ] as const)
    if (!Number.isInteger(c) || c < 0 || c >= n)
      throw new UserError(
        `The ${what} class ${c} is not a class of the model (0..${n - 1}).`,
        'Pick a class index or name of the dataset.',
        'usage',
      );
  if (faulty === victim)
    throw new UserError('The faulty and victim classes must differ.', 'Pick two classes.', 'usage');
  say(
    `fault: ${names[victim]} predicted as ${names[faulty]} for ${(confusionRate(pred0, test.labels, victim, faulty) * 100).toFixed(1)}% of its test images`,
  );
  return {
    faulty,
    victim,
    matrix,
    suggested: { faulty: suggested.faulty, victim: suggested.victim, rate: suggested.rate },
    initial: judge(probs, test, n, { faulty, victim }),
  };
}

/** The class whose images `faulty` swallows most. */
function mostVictimOf(m: number[][], faulty: number): number {
  let best = faulty === 0 ? 1 : 0;
  let rate = -1;
  m.forEach((row, t) => {
    if (t === faulty) return;
    const total = row.reduce((a, b) => a + b, 0);
    const r = total ? row[faulty]! / total : 0;
    if (r > rate) {
      rate = r;
      best = t;
    }
  });
  return best;
}
