// The repair wizard (the paper's motivating example): find the most-confused pair of a model,
// run the repair options, measure each, compare them (Table 6-like rows) and recommend one.
//   1: replace the faulty module with the same class's module of a better model
//   2: train a small model on just the two classes, and use its faulty-class module
//   3: remove the faulty module (no training)
//   4: keep the model; when it predicts either class, re-decide with option 2's two modules
// Each option is a file of wizard/options/; the session (wizard/session.ts) measures them.
import { UserError } from '../../common/errors.ts';
import { PAIR_DEFAULTS, WIZARD_OPTIONS, type WizardOption } from '../../common/wizard.ts';
import { planModel } from '../graph/plan.ts';
import { readModelDir } from '../models/io.ts';
import { repairedScores } from '../wizard/repaired.ts';
import { ZERO_COST } from './costs.ts';
import { findFault } from './wizard/fault.ts';
import { replaceWithBetterModule } from './wizard/options/better-module.ts';
import { replaceWithPairModule } from './wizard/options/pair-module.ts';
import { removeFaultyModule } from './wizard/options/remove-module.ts';
import { verifyWithPairModules } from './wizard/options/verify-pair.ts';
import { WizardSession, PAIR_VALID_TOP1 } from './wizard/session.ts';
import type { DecomposedModel, Fault, WizardContext, WizardOutcome, WizardSpec } from './wizard/types.ts';

// The wizard's public face: what the app, the jobs and the CLI use of it.
export type {
  Accuracy,
  OptionRow,
  WizardContext,
  WizardOutcome,
  WizardResult,
  WizardSpec,
} from './wizard/types.ts';
export { saveWizardOption } from './wizard/save.ts';
export { PAIR_DEFAULTS, PAIR_VALID_TOP1, WIZARD_OPTIONS };

/** Each option: how it prepares its repaired classifier and has the session measure it. */
const REPAIRS: Record<WizardOption, (s: WizardSession, f: Fault, orig: DecomposedModel) => Promise<void>> = {
  1: replaceWithBetterModule,
  2: replaceWithPairModule,
  3: removeFaultyModule,
  4: verifyWithPairModules,
};

export async function runWizard(spec: WizardSpec, ctx: WizardContext): Promise<WizardOutcome> {
  for (const o of spec.options)
    if (!WIZARD_OPTIONS.includes(o as WizardOption))
      throw new UserError(`Unknown option ${o}.`, 'Choose options among 1, 2, 3, 4.', 'usage');
  const read = await readModelDir(spec.model);
  const plan = planModel(read.artifacts);
  const n = spec.data.info.classNames.length;
  if (plan.classes !== n)
    throw new UserError(
      `The model has ${plan.classes} classes but the dataset ${n}.`,
      'Use the dataset the model was trained on.',
      'bad-input',
    );
  const session = new WizardSession(spec, ctx, read, plan);
  try {
    return await repair(session);
  } finally {
    await session.close();
  }
}

/** The fault, the model's own composed modules, then each chosen option, measured. */
async function repair(s: WizardSession): Promise<WizardOutcome> {
  const { spec, read, ctx } = s;
  const test = spec.data.test;
  const base = await s.open(read.dir);
  const f = await findFault(base, spec, (line) => s.say(line));

  // The composed modules of the faulty model (the starting point of options 1-3).
  const d0 = await s.decomposeModel(read.dir, base, s.plan, spec.data, 'the model');
  const orig: DecomposedModel = {
    dir: read.dir,
    engine: base,
    set: d0.set,
    decompose: d0.cost,
    train: ZERO_COST,
  };
  const composed = s.judge(
    await repairedScores(s.modules(f, [orig]), test.images, test.count, ctx.signal),
    f,
  );

  for (const option of [...new Set(spec.options)].sort()) {
    ctx.signal?.throwIfAborted();
    await REPAIRS[option as WizardOption](s, f, orig);
  }
  return s.outcome(f, composed, orig.decompose);
}
