// The fix-it wizard: a model's fault, the faulty demo model, the repair run, saved repairs.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type {
  DecomposerApi,
  FaultView,
  FaultyDemoParams,
  JobOf,
  RepairedSummary,
  SaveRepairParams,
  WizardParams,
} from '../../common/api.ts';
import { saveRepair, startFaultyDemo, startWizard } from '../jobs/wizard-jobs.ts';
import { repairedDir } from '../paths.ts';
import { repairedView } from '../views.ts';
import { readRepairedManifest } from '../wizard/index.ts';
import { analyzeFault } from '../workflows/fault-analysis.ts';
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

    async startFaultyDemo(params?: FaultyDemoParams): Promise<JobOf<'faulty'>> {
      guard('startFaultyDemo', params === undefined ? [] : [params]);
      ctx.db();
      return startFaultyDemo(ctx.jobs, params ?? {});
    },

    async startWizard(params: WizardParams): Promise<JobOf<'wizard'>> {
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

/** The repaired classifiers under <home>/repaired, newest first; unreadable folders are left out. */
async function listRepaired(home: string): Promise<RepairedSummary[]> {
  const root = repairedDir(home);
  const entries = await fsp.readdir(root, { withFileTypes: true }).catch(() => []);
  const out: RepairedSummary[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dir = path.resolve(root, e.name);
    try {
      out.push(repairedView(dir, await readRepairedManifest(dir)));
    } catch {
      // A half-written or foreign folder: not a repaired classifier.
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
