// Decomposition (Table 1) and reuse/replace scenarios as jobs, and the module sets kept.
import path from 'node:path';
import type {
  DecomposeParams,
  DecomposerApi,
  JobInfo,
  ModuleSetSummary,
  ScenarioParams,
} from '../../common/api.ts';
import { listModuleSets } from '../decompose/files.ts';
import { startDecomposition, startScenario } from '../jobs/analysis-jobs.ts';
import { guard, type AppContext } from './context.ts';

export function analysisHandlers(
  ctx: AppContext,
): Pick<DecomposerApi, 'startDecomposition' | 'listModuleSets' | 'startScenario'> {
  return {
    async startDecomposition(params: DecomposeParams): Promise<JobInfo> {
      guard('startDecomposition', [params]);
      ctx.db();
      return startDecomposition(ctx.jobs, { ...params, modelDir: path.resolve(params.modelDir) });
    },

    async listModuleSets(modelDir: string): Promise<ModuleSetSummary[]> {
      guard('listModuleSets', [modelDir]);
      return listModuleSets(path.resolve(modelDir));
    },

    async startScenario(params: ScenarioParams): Promise<JobInfo> {
      guard('startScenario', [params]);
      ctx.db();
      return startScenario(ctx.jobs, { ...params, models: params.models.map((m) => path.resolve(m)) });
    },
  };
}
