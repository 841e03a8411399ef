// Option 3: remove the faulty class's module; that class is never predicted again. No training.
import { ZERO_COST } from '../../costs.ts';
import type { WizardSession } from '../session.ts';
import type { DecomposedModel, Fault } from '../types.ts';

export async function removeFaultyModule(s: WizardSession, f: Fault, orig: DecomposedModel): Promise<void> {
  await s.runOption(f, 3, 'replace', { train: ZERO_COST, decompose: ZERO_COST }, s.modules(f, [orig], null));
}
