// Option 4: keep the model; whenever it predicts either class of the pair, re-decide between
// the two with the modules of option 2's two-class model.
import type { RepairedPipeline } from '../../../wizard/repaired.ts';
import type { WizardSession } from '../session.ts';
import type { DecomposedModel, Fault } from '../types.ts';

export async function verifyWithPairModules(
  s: WizardSession,
  f: Fault,
  orig: DecomposedModel,
): Promise<void> {
  const p = await s.pair(f);
  const pipe: RepairedPipeline = {
    kind: 'verify',
    classNames: s.names,
    parts: [
      { modelDir: orig.dir, engine: orig.engine, set: null },
      { modelDir: p.dir, engine: p.engine, set: p.set },
    ],
    verify: {
      base: 0,
      pair: [
        { label: f.victim, source: { part: 1, classIndex: 0 } },
        { label: f.faulty, source: { part: 1, classIndex: 1 } },
      ],
    },
  };
  const note = ['the two-class model is shared with option 2; its cost is counted in both', s.pairNote]
    .filter(Boolean)
    .join('; ');
  await s.runOption(f, 4, 'evaluate', p, pipe, note);
}
