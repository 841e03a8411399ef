// Decomposition (Table 1) and reuse/replace scenarios as jobs, and the module sets kept.
import path from 'node:path';
import type {
  DecomposeParams,
  DecomposerApi,
  JobOf,
  ModuleSetSummary,
  ScenarioParams,
} from '../../common/api.ts';
import type { PortableExportView } from '../../common/decomposition.ts';
import { listModuleSets, loadModuleSet } from '../decompose/files.ts';
import { exportPortable } from '../decompose/portable.ts';
import { planModel } from '../graph/plan.ts';
import { DEFAULT_PREPROCESS, readModelDir } from '../models/io.ts';
import { startDecomposition, startScenario } from '../jobs/analysis-jobs.ts';
import { guard, type AppContext } from './context.ts';

export function analysisHandlers(
  ctx: AppContext,
): Pick<DecomposerApi, 'startDecomposition' | 'listModuleSets' | 'exportModulesOnnx' | 'startScenario'> {
  return {
    async startDecomposition(params: DecomposeParams): Promise<JobOf<'decompose'>> {
      guard('startDecomposition', [params]);
      ctx.db();
      return startDecomposition(ctx.jobs, { ...params, modelDir: path.resolve(params.modelDir) });
    },

    async listModuleSets(modelDir: string): Promise<ModuleSetSummary[]> {
      guard('listModuleSets', [modelDir]);
      return listModuleSets(path.resolve(modelDir));
    },

    async exportModulesOnnx(setDir: string, outDir: string): Promise<PortableExportView> {
      guard('exportModulesOnnx', [setDir, outDir]);
      // A saved set lives in <model>/modules/<run>.
      const dir = path.resolve(setDir);
      const read = await readModelDir(path.dirname(path.dirname(dir)));
      const plan = planModel(read.artifacts);
      const set = await loadModuleSet(dir, { plan });
      return exportPortable(set, plan, read.meta?.preprocess ?? DEFAULT_PREPROCESS, path.resolve(outDir), {
        grey: read.meta?.grey ?? null,
        source: path.resolve(read.dir),
      });
    },

    async startScenario(params: ScenarioParams): Promise<JobOf<'scenario'>> {
      guard('startScenario', [params]);
      ctx.db();
      return startScenario(ctx.jobs, { ...params, models: params.models.map((m) => path.resolve(m)) });
    },
  };
}
