// Option 2: train a small model on just the two classes, and replace the faulty class's module
// with its module for that class (the pair dataset's class 1).
import type { WizardSession } from '../session.ts';
import type { DecomposedModel, Fault } from '../types.ts';

export async function replaceWithPairModule(
  s: WizardSession,
  f: Fault,
  orig: DecomposedModel,
): Promise<void> {
  const p = await s.pair(f);
  await s.runOption(f, 2, 'replace', p, s.modules(f, [orig, p], { part: 1, classIndex: 1 }), s.pairNote);
}
