// The fix-it wizard behind the app: a model's (or a saved repaired classifier's) confusion on
// its test set, the wizard's result shaped for the page, and the saved repaired classifiers.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type {
  FaultView,
  RepairedSummary,
  WizardAccuracy,
  WizardOptionView,
  WizardView,
} from '../../common/api.ts';
import { isEstimatedSource } from '../../common/api.ts';
import type { WizardOption } from '../../common/wizard.ts';
import { UserError } from '../../common/errors.ts';
import { openInference } from '../inference/index.ts';
import { repairedDir } from '../paths.ts';
import type { Cost } from '../workflows/grid.ts';
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
import { type Accuracy, type WizardResult } from '../workflows/wizard.ts';
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

const accuracy = (a: Accuracy): WizardAccuracy => ({
  top1: a.top1,
  top5: a.top5,
  confusion: a.confusion,
  otherTop1: a.other_top1,
});
const costView = (c: Cost) => ({ seconds: c.seconds, co2eKg: c.co2e_kg });
const estimated = (c: Cost) => isEstimatedSource(c.source);

export function wizardView(r: WizardResult): WizardView {
  const options: WizardOptionView[] = r.options.map((o) => ({
    option: o.option as WizardOption,
    label: o.label,
    ...accuracy(o),
    seconds: o.seconds,
    co2eKg: o.cost.total.co2e_kg,
    co2eLbs: o.co2e_lbs,
    parts: {
      train: costView(o.cost.train),
      decompose: costView(o.cost.decompose),
      run: costView(o.cost.run),
    },
    estimated: [o.cost.train, o.cost.decompose, o.cost.run].some((c) => c.seconds > 0 && estimated(c)),
    ...(o.note ? { note: o.note } : {}),
  }));
  return {
    modelDir: r.model,
    datasetId: r.dataset,
    classes: r.classes,
    faulty: r.faulty,
    victim: r.victim,
    testImages: r.test_images,
    initial: accuracy(r.initial),
    composed: accuracy(r.composed),
    decomposition: { ...costView(r.decomposition), estimated: estimated(r.decomposition) },
    options,
    skipped: r.skipped.map((x) => ({ option: x.option as WizardOption, reason: x.reason })),
    recommendation: r.recommendation
      ? { option: r.recommendation.option as WizardOption, reason: r.recommendation.reason }
      : null,
    ...(r.pair_train ? { pairTrain: r.pair_train } : {}),
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
    accuracy: h.accuracy ? accuracy(h.accuracy) : null,
    initial: h.initial ? accuracy(h.initial) : null,
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
