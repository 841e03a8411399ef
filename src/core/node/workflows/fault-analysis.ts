// A model's (or a saved repaired classifier's) fault, as the wizard's first step shows it: its
// test accuracy, confusion matrix and most-confused pair.
import path from 'node:path';
import type { FaultView } from '../../common/api.ts';
import type { Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { openInference } from '../inference/index.ts';
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
import { loadModelDataset, openModelData } from './model-data.ts';

/** Test accuracy, confusion matrix and most-confused pair of a model or a repaired classifier. */
export async function analyzeFault(
  ctx: { home: string; signal: AbortSignal; progress: (p: Progress) => void },
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
    const md = await openModelData(dir, datasetId, {
      home: ctx.home,
      signal: ctx.signal,
      onProgress: (p) => ctx.progress({ stage: `Loading dataset: ${p.stage}`, fraction: p.fraction }),
    });
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
