// The fix-it wizard behind the app: a model's (or a saved repaired classifier's) confusion on
// its test set, and the saved repaired classifiers.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { FaultView, RepairedSummary } from '../../common/api.ts';
import { UserError } from '../../common/errors.ts';
import { openInference } from '../inference/index.ts';
import { repairedDir } from '../paths.ts';
import { argmaxRows, topKAccuracy } from '../train/metrics.ts';
import {
  closeRepaired,
  confusionMatrix,
  isRepairedDir,
  loadRepaired,
  mostConfusedPair,
  readRepairedManifest,
  repairedScores,
} from '../wizard/index.ts';
import { accuracyView } from '../views.ts';
import { modelAndData, type AnalysisContext } from './analysis.ts';
import { loadModelDataset } from '../workflows/model-data.ts';

/** Test accuracy, confusion matrix and most-confused pair of a model or a repaired classifier. */
export async function analyzeFault(
  ctx: Pick<AnalysisContext, 'home' | 'signal' | 'progress'>,
  dir: string,
  datasetId: string | null,
): Promise<FaultView> {
  let scores: Float32Array;
  let data;
  let kind: FaultView['kind'];
  if (await isRepairedDir(dir)) {
    kind = 'repaired';
    const m = await readRepairedManifest(dir);
    const id = datasetId ?? m.history?.dataset;
    if (!id)
      throw new UserError(
        `The repaired classifier in ${dir} does not say which dataset it was made on.`,
        'Pick its dataset.',
        'no-dataset',
      );
    data = await loadModelDataset(ctx.home, id, ctx.signal, ctx.progress);
    if (data.info.classNames.length !== m.classNames.length)
      throw new UserError(
        `The dataset has ${data.info.classNames.length} classes but the repaired classifier ${m.classNames.length}.`,
        'Use the dataset it was made on.',
        'bad-input',
      );
    const loaded = await loadRepaired(dir);
    try {
      scores = await repairedScores(loaded.pipeline, data.test.images, data.test.count, ctx.signal);
    } finally {
      await closeRepaired(loaded.pipeline);
    }
  } else {
    kind = 'model';
    const md = await modelAndData(ctx, dir, datasetId);
    data = md.data;
    const engine = await openInference(md.dir);
    try {
      scores = await engine.predict(data.test.images, data.test.count);
    } finally {
      await engine.close();
    }
  }
  const n = data.info.classNames.length;
  const matrix = confusionMatrix(argmaxRows(scores, n), data.test.labels, n);
  const s = mostConfusedPair(matrix);
  return {
    dir: path.resolve(dir),
    kind,
    datasetId: data.info.id,
    datasetName: data.info.name,
    classNames: data.info.classNames,
    testImages: data.test.count,
    top1: topKAccuracy(scores, data.test.labels, n, 1),
    top5: topKAccuracy(scores, data.test.labels, n, Math.min(5, n)),
    matrix,
    suggested: { faulty: s.faulty, victim: s.victim, rate: s.rate },
  };
}

export async function repairedSummary(dir: string): Promise<RepairedSummary> {
  const m = await readRepairedManifest(dir);
  const h = m.history ?? {};
  return {
    name: m.name,
    dir: path.resolve(dir),
    createdAt: m.createdAt,
    kind: m.kind,
    option: h.option ?? null,
    label: h.label ?? null,
    classNames: m.classNames,
    model: h.model ?? null,
    datasetId: h.dataset ?? null,
    faulty: h.faulty ?? null,
    victim: h.victim ?? null,
    accuracy: h.accuracy ? accuracyView(h.accuracy) : null,
    initial: h.initial ? accuracyView(h.initial) : null,
  };
}

/** The repaired classifiers under <home>/repaired, newest first; unreadable folders are left out. */
export async function listRepaired(home: string): Promise<RepairedSummary[]> {
  const root = repairedDir(home);
  const entries = await fsp.readdir(root, { withFileTypes: true }).catch(() => []);
  const out: RepairedSummary[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    try {
      out.push(await repairedSummary(path.join(root, e.name)));
    } catch {
      // A half-written or foreign folder: not a repaired classifier.
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
