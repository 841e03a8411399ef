// Option 1: replace the faulty class's module with the same class's module of a better model
// of the same classes (one given, or the same architecture trained longer).
import { UserError } from '../../../../common/errors.ts';
import { planModel } from '../../../graph/plan.ts';
import { baselineArchitecture, readModelDir } from '../../../models/io.ts';
import { ZERO_COST, type Cost } from '../../costs.ts';
import type { WizardSession } from '../session.ts';
import type { DecomposedModel, Fault } from '../types.ts';

export async function replaceWithBetterModule(
  s: WizardSession,
  f: Fault,
  orig: DecomposedModel,
): Promise<void> {
  const b = await betterModel(s);
  if ('reason' in b) {
    s.skip(1, b.reason);
    return;
  }
  const { model } = b;
  await s.runOption(
    f,
    1,
    'replace',
    model,
    s.modules(f, [orig, model], { part: 1, classIndex: f.faulty }),
    b.note,
  );
}

/** The better model, given or trained, decomposed; why not when there is none. */
async function betterModel(
  s: WizardSession,
): Promise<{ model: DecomposedModel; note: string } | { reason: string }> {
  const { spec, read, plan, n } = s;
  let better: { dir: string; cost: Cost; note: string } | null = null;
  if (spec.better) better = { dir: spec.better, cost: ZERO_COST, note: `better model ${spec.better}` };
  else if (spec.trainBetter) {
    // The model's own architecture, trained longer (an imported one from fresh weights).
    const arch = baselineArchitecture(read.meta, read.dir);
    const t = await s.trainModel(
      'better',
      spec.trainBetter.data ?? spec.data,
      {
        ...(arch.kind === 'resnet' ? { depth: arch.depth, batchNorm: arch.batchNorm } : {}),
        epochs: spec.trainBetter.epochs,
        batchSize: spec.pairTrain.batchSize,
      },
      arch.kind === 'imported' ? arch.dir : undefined,
    );
    better = { ...t, note: `better model trained for ${spec.trainBetter.epochs} epochs` };
  }
  if (!better)
    return {
      reason:
        'Option 1 needs a better model: give one with --better DIR, or ask for one with --train-better (trains the same architecture longer).',
    };
  const br = await readModelDir(better.dir);
  const bp = planModel(br.artifacts);
  const engine = await s.open(br.dir);
  if (bp.classes !== n || bp.input.shape.join('x') !== plan.input.shape.join('x'))
    throw new UserError(
      `The better model (${bp.classes} classes, input ${bp.input.shape.join('x')}) does not match the model (${n} classes, input ${plan.input.shape.join('x')}).`,
      'Give a model trained on the same classes and image size.',
      'incompatible-modules',
    );
  const d = await s.decomposeModel(br.dir, engine, bp, spec.data, 'the better model');
  return {
    model: { dir: br.dir, engine, set: d.set, decompose: d.cost, train: better.cost },
    note: better.note,
  };
}
