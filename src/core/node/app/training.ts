// Training from scratch, the demo, the trained models, and the jobs that run them.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type {
  DecomposerApi,
  DemoParams,
  EnergyFigure,
  JobInfo,
  JobStatus,
  ModelSummary,
  TrainParams,
} from '../../common/api.ts';
import { readModelDir } from '../models/io.ts';
import { resolveDataset } from '../jobs/datasets.ts';
import { resumeTraining, startDemo, startTraining } from '../jobs/training-jobs.ts';
import { modelDatasetSpec } from '../workflows/model-data.ts';
import { guard, type AppContext } from './context.ts';

export function trainingHandlers(
  ctx: AppContext,
): Pick<
  DecomposerApi,
  'listModels' | 'startTraining' | 'resumeTraining' | 'runDemo' | 'cancelJob' | 'listJobs'
> {
  return {
    async listModels(): Promise<ModelSummary[]> {
      const out: ModelSummary[] = [];
      for (const r of ctx.db().listRuns({ kind: 'train', limit: 500 })) {
        const res = r.result as {
          model_dir?: string | null;
          top1?: number;
          top5?: number;
          best_epoch?: number;
        } | null;
        if (!res?.model_dir) continue;
        try {
          await fsp.access(path.join(res.model_dir, 'model.json'));
        } catch {
          continue; // deleted since
        }
        const p = r.params as { dataset?: string; depth?: number } | null;
        const meta = await readModelDir(res.model_dir).then(
          (x) => x.meta,
          () => null,
        );
        out.push({
          runId: r.id,
          dir: res.model_dir,
          dataset: p?.dataset ?? 'unknown',
          depth: p?.depth ?? null,
          epochs: r.epochs_done,
          bestEpoch: r.best_epoch,
          top1: res.top1 ?? null,
          top5: res.top5 ?? null,
          status: r.status as JobStatus,
          energy: r.energy as EnergyFigure | null,
          classNames: meta?.classNames ?? null,
          inputSize: meta?.inputSize ?? null,
          datasetId: meta?.datasetId ?? null,
        });
      }
      return out;
    },

    async startTraining(params: TrainParams): Promise<JobInfo> {
      guard('startTraining', [params]);
      // An unknown dataset is refused by the call, before a job or a run exists.
      await resolveDataset(ctx.home, params.dataset, params.perClass);
      return startTraining(ctx.jobs, params);
    },

    async resumeTraining(runId: number): Promise<JobInfo> {
      guard('resumeTraining', [runId]);
      return resumeTraining(ctx.jobs, runId);
    },

    async runDemo(params?: DemoParams): Promise<JobInfo> {
      guard('runDemo', params === undefined ? [] : [params]);
      if (params?.dataset !== undefined) await modelDatasetSpec(ctx.home, params.dataset);
      return startDemo(ctx.jobs, params ?? {});
    },

    async cancelJob(id: string): Promise<boolean> {
      guard('cancelJob', [id]);
      return ctx.jobs.cancel(id);
    },

    async listJobs(): Promise<JobInfo[]> {
      // The store opens first: runs found interrupted at start-up are listed as jobs.
      ctx.db();
      return ctx.jobs.list();
    },
  };
}
