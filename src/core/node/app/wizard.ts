// The fix-it wizard: a model's fault, the faulty demo model, the repair run, saved repairs.
import path from 'node:path';
import type {
  DecomposerApi,
  FaultView,
  FaultyDemoParams,
  JobInfo,
  RepairedSummary,
  SaveRepairParams,
  WizardParams,
} from '../../common/api.ts';
import { analyzeFault, listRepaired } from '../jobs/wizard.ts';
import { saveRepair, startFaultyDemo, startWizard } from '../jobs/wizard-jobs.ts';
import { guard, type AppContext } from './context.ts';

export function wizardHandlers(
  ctx: AppContext,
): Pick<DecomposerApi, 'analyzeFault' | 'startFaultyDemo' | 'startWizard' | 'saveRepair' | 'listRepaired'> {
  return {
    async analyzeFault(dir: string, dataset: string | null): Promise<FaultView> {
      guard('analyzeFault', [dir, dataset]);
      return analyzeFault(
        { home: ctx.home, signal: new AbortController().signal, progress: () => undefined },
        path.resolve(dir),
        dataset,
      );
    },

    async startFaultyDemo(params?: FaultyDemoParams): Promise<JobInfo> {
      guard('startFaultyDemo', params === undefined ? [] : [params]);
      ctx.db();
      return startFaultyDemo(ctx.jobs, params ?? {});
    },

    async startWizard(params: WizardParams): Promise<JobInfo> {
      guard('startWizard', [params]);
      ctx.db();
      return startWizard(ctx.jobs, {
        ...params,
        modelDir: path.resolve(params.modelDir),
        ...(params.betterModel ? { betterModel: path.resolve(params.betterModel) } : {}),
      });
    },

    async saveRepair(params: SaveRepairParams): Promise<RepairedSummary> {
      guard('saveRepair', [params]);
      return saveRepair(ctx.jobs, params);
    },

    async listRepaired(): Promise<RepairedSummary[]> {
      return listRepaired(ctx.home);
    },
  };
}
