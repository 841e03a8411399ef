// Saving one option of a wizard run as a repaired classifier, with the run's history.
import { UserError } from '../../../common/errors.ts';
import { saveRepaired } from '../../wizard/repaired.ts';
import type { WizardOutcome } from './types.ts';

/** Saves one option of a wizard run as <parent>/<name>, with the run's history; returns the folder. */
export async function saveWizardOption(
  outcome: WizardOutcome,
  option: number,
  parent: string,
  name: string,
): Promise<string> {
  const recipe = outcome.recipes.get(option);
  const row = outcome.result.options.find((r) => r.option === option);
  if (!recipe || !row)
    throw new UserError(
      `Option ${option} did not run, so it cannot be saved.`,
      `Save one of the options that ran (${[...outcome.recipes.keys()].join(', ') || 'none'}), or run option ${option}.`,
      'usage',
    );
  const r = outcome.result;
  return saveRepaired(recipe, parent, name, {
    made_by: 'decomposer wizard',
    model: r.model,
    dataset: r.dataset,
    faulty: r.faulty,
    victim: r.victim,
    option,
    label: row.label,
    accuracy: { top1: row.top1, top5: row.top5, confusion: row.confusion, other_top1: row.other_top1 },
    initial: r.initial,
    cost: row.cost.total,
    run_id: row.run_id,
    recommendation: r.recommendation,
  });
}
