// Datasets: the embedded ones, those found on this machine and those imported; preview,
// download and import (jobs).
import path from 'node:path';
import type { DecomposerApi, DownloadableDataset, ImportSpec, JobOf } from '../../common/api.ts';
import type { DatasetInfo } from '../../common/dataset.ts';
import { knownDatasets, previewDataset } from '../data/catalogue.ts';
import { startDownload, startImport } from '../jobs/dataset-jobs.ts';
import { guard, type AppContext } from './context.ts';

export function datasetHandlers(
  ctx: AppContext,
): Pick<DecomposerApi, 'listDatasets' | 'previewDataset' | 'downloadDataset' | 'importDataset'> {
  return {
    async listDatasets(): Promise<DatasetInfo[]> {
      return knownDatasets(ctx.home);
    },

    async previewDataset(id: string, perClass: number) {
      guard('previewDataset', [id, perClass]);
      return previewDataset(ctx.home, id, perClass);
    },

    async downloadDataset(name: DownloadableDataset): Promise<JobOf<'download'>> {
      guard('downloadDataset', [name]);
      return startDownload(ctx.jobs, name);
    },

    async importDataset(spec: ImportSpec): Promise<JobOf<'import'>> {
      guard('importDataset', [spec]);
      return startImport(ctx.jobs, { ...spec, path: path.resolve(spec.path) });
    },
  };
}
