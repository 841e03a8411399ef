// Training from scratch, the demo, the trained models, and the jobs that run them.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type {
  DecomposerApi,
  DemoParams,
  EnergyFigure,
  JobInfo,
  JobOf,
  JobStatus,
  ModelSummary,
  TrainParams,
} from '../../common/api.ts';
import { importedModels } from '../models/imported.ts';
import { readModelDir, type ModelMeta } from '../models/io.ts';
import { knownDatasets, resolveDataset } from '../data/catalogue.ts';
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
      const names = new Map((await knownDatasets(ctx.home)).map((d) => [d.id, d.name]));
      const out: ModelSummary[] = [];
      // One row per model folder: a training cancelled and resumed there is one model.
      for (const r of ctx.db().runs.list({ kind: 'train', models: true, limit: 500 })) {
        const res = r.result as { model_dir: string; top1?: number; top5?: number };
        try {
          await fsp.access(path.join(res.model_dir, 'model.json'));
        } catch {
          continue; // deleted since
        }
        const p = r.params as { dataset?: unknown; depth?: number; classes?: unknown } | null;
        const meta = await readModelDir(res.model_dir).then(
          (x) => x.meta,
          () => null,
        );
        out.push({
          runId: r.id,
          dir: res.model_dir,
          dataset: datasetName(meta, p, names),
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
          source: sourceOf(meta),
        });
      }
      // Imported models (newest first): their folders, as long as they hold one.
      for (const e of (await importedModels(ctx.home)).reverse()) {
        if (out.some((m) => path.resolve(m.dir) === path.resolve(e.dir))) continue;
        const meta = await readModelDir(e.dir).then(
          (x) => x.meta,
          () => null,
        );
        if (meta?.architecture !== 'imported') continue; // moved or deleted since
        out.push({
          runId: null,
          dir: e.dir,
          dataset: datasetName(meta, null, names),
          depth: null,
          epochs: 0,
          bestEpoch: null,
          top1: null,
          top5: null,
          status: 'finished',
          energy: null,
          classNames: meta.classNames,
          inputSize: meta.inputSize,
          datasetId: meta.datasetId,
          source: sourceOf(meta),
        });
      }
      return out;
    },

    async startTraining(params: TrainParams): Promise<JobOf<'train'>> {
      guard('startTraining', [params]);
      // An unknown dataset is refused by the call, before a job or a run exists.
      await resolveDataset(ctx.home, params.dataset, params.perClass);
      return startTraining(ctx.jobs, params);
    },

    async resumeTraining(runId: number): Promise<JobOf<'train' | 'demo'>> {
      guard('resumeTraining', [runId]);
      return resumeTraining(ctx.jobs, runId);
    },

    async runDemo(params?: DemoParams): Promise<JobOf<'demo'>> {
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

/**
 * A model's dataset as a person reads it: the name its model records, else the name of the
 * dataset its id belongs to, else (a scenario's baseline) the classes it was trained on,
 * else the dataset as the training was asked for it.
 */
function datasetName(
  meta: ModelMeta | null,
  params: { dataset?: unknown; classes?: unknown } | null,
  names: ReadonlyMap<string, string>,
): string {
  if (meta?.datasetName) return meta.datasetName;
  const asked = typeof params?.dataset === 'string' ? params.dataset : null;
  for (const id of [meta?.datasetId, asked]) {
    const name = id ? names.get(id) : undefined;
    if (name) return name;
  }
  const classes = params?.classes;
  if (Array.isArray(classes) && classes.length && classes.every((c) => typeof c === 'string'))
    return classes.join(', ');
  return asked ?? meta?.datasetId ?? 'unknown';
}

/** An imported model's provenance as the app shows it. */
function sourceOf(meta: ModelMeta | null): ModelSummary['source'] {
  if (meta?.architecture !== 'imported') return null;
  const s = meta.source;
  const { file, sha256, bytes, format, producer, layout, output, batchNorm, importedAt } = s;
  const opset = s.format === 'onnx' ? s.opset : null;
  return { file, sha256, bytes, format, producer, opset, layout, output, batchNorm, importedAt };
}
