// Dataset jobs: a download, and an import (with added sources joined as one dataset).
import type { JobManager } from './jobs.ts';
import path from 'node:path';
import type { DownloadableDataset, ImportPart, ImportSpec, JobOf } from '../../common/api.ts';
import type { DatasetSpec } from '../../common/dataset.ts';
import { downloadDataset, KNOWN_DOWNLOADS, loadDataset } from '../data/index.ts';
import { combineSpecs, type PartSpec } from '../data/combined.ts';
import { cacheDir, downloadsDir } from '../paths.ts';
import { addImported } from '../data/catalogue.ts';

export function startDownload(runner: JobManager, name: DownloadableDataset): JobOf<'download'> {
  const known = KNOWN_DOWNLOADS[name];
  return runner.start('download', `Download ${known.title}`, async (job) => {
    const r = await downloadDataset(name, {
      destDir: downloadsDir(runner.o.home),
      signal: job.controller.signal,
      onProgress: runner.progressOf(job),
    });
    return { result: { path: r.path } };
  });
}

export function startImport(runner: JobManager, s: ImportSpec): JobOf<'import'> {
  const size = s.size ?? 32;
  const part = (p: ImportPart): PartSpec =>
    p.kind === 'folder'
      ? { kind: 'folder', path: p.path, size }
      : p.kind === 'mnist' || p.kind === 'fashion-mnist' || p.kind === 'kmnist' || p.kind === 'emnist'
        ? {
            kind: 'mnist',
            family: p.kind,
            path: p.path,
            ...(p.kind === 'emnist' ? { split: 'balanced' } : {}),
          }
        : { kind: p.kind, path: p.path };
  // Added sources: their classes follow the main one's, as one combined dataset.
  const extra = (s.extra ?? []).map((p) => ({ kind: p.kind, path: path.resolve(p.path) }));
  const spec: DatasetSpec = extra.length ? combineSpecs(part(s), extra.map(part), size) : part(s);
  const label = extra.length
    ? `Import ${[s, ...extra].map((p) => `${p.kind} from ${p.path}`).join(' + ')} as one dataset`
    : `Import ${s.kind} from ${s.path}`;
  return runner.start('import', label, async (job) => {
    const data = await loadDataset(spec, {
      cacheDir: cacheDir(runner.o.home),
      signal: job.controller.signal,
      onProgress: runner.progressOf(job),
    });
    await addImported(runner.o.home, spec, data.info);
    return { result: { datasetId: data.info.id } };
  });
}
