// One scenario of a grid: its modules composed on the scenario's test images (measured as the
// scenario's own run), its baseline, and the row that compares them (accuracies, costs, the
// paper's CO2e ratios). Reuse never retrains: it costs forward passes only.
import { composedScores, type ComposeSource } from '../../decompose/compose.ts';
import { gather } from '../../decompose/decompose.ts';
import type { EnergyRecord } from '../../energy/formula.ts';
import { measured, type RunRecorder } from '../../measure/measured.ts';
import { continualModule } from '../../reuse/continual.ts';
import { gatherClasses, type Scenario } from '../../reuse/scenario.ts';
import { topKAccuracy } from '../../train/metrics.ts';
import { addCosts, co2eRatio, costBetween } from '../costs.ts';
import { runBaseline } from './baseline.ts';
import { quietRuns, type DecomposedModel, type GridRun } from './grid-run.ts';
import type { ScenarioRow } from './types.ts';

/** What composing a scenario's modules gave, and the energy read once they were built. */
interface Composed {
  built: EnergyRecord;
  top1: number;
  top5: number;
  mma: number | undefined;
  modelTop: { top1: number; top5: number } | undefined;
}

export async function runScenario(g: GridRun, s: Scenario): Promise<ScenarioRow> {
  const { spec, opened, ctx, gridId } = g;
  const datas = opened.map((o) => o.model.data);
  const names = s.classes.map(
    (c) => `${datas[c.source]!.info.name}:${datas[c.source]!.info.classNames[c.classIndex]}`,
  );
  const scope: 'intra' | 'inter' = s.kind.startsWith('intra') ? 'intra' : 'inter';
  const test = gatherClasses(
    datas.map((d) => d.test),
    s.images,
  );
  ctx.onInfo?.(
    s.replaced !== undefined
      ? `${s.kind}: label ${s.replaced}'s module is now ${names[s.replaced]}'s; composing ${s.classes.length} modules on ${test.count} test images…`
      : `${s.kind} ${names.join(' + ')}: composing ${s.classes.length} modules on ${test.count} test images…`,
  );
  // The scenario's own run: building its modules and predicting with them.
  const run = await measured(
    quietRuns(ctx),
    {
      kind: spec.kind,
      scenario: s.key,
      params: {
        grid: gridId,
        scenario: s.key,
        classes: names,
        approach: spec.approach,
        inference: spec.inference,
      },
      outcome: ({ top1, top5, mma }) => ({ result: { top1, top5, mma } }),
    },
    (rec: RunRecorder) => compose(g, s, test, rec),
  );
  const { built, top1, top5, mma, modelTop } = run.value;
  const build = costBetween(null, built);
  const predict = costBetween(built, run.energy.energy);
  const baseline = await runBaseline(g, s);
  const decomposition = addCosts(
    ...[...new Set(s.classes.map((c) => c.source))].map((i) => opened[i]!.decomposition),
  );
  const reuse = addCosts(build, predict);
  const withDecomposition = addCosts(reuse, decomposition);
  const baseFixed = addCosts(baseline.fixed, baseline.predict);
  const baseBest = addCosts(baseline.best, baseline.predict);
  return {
    scenario: spec.kind,
    kind: scope,
    key: s.key,
    classes: names,
    ...(spec.kind === 'reuse'
      ? { ma: top1 }
      : { top1, top5, model_top1: modelTop!.top1, model_top5: modelTop!.top5 }),
    ...(mma !== undefined ? { mma } : {}),
    tma: baseline.tma,
    test_images: test.count,
    cost: {
      decomposition,
      build,
      predict,
      baseline_fixed: baseline.fixed,
      baseline_best: baseline.best,
      baseline_predict: baseline.predict,
    },
    co2e_ratio_fixed: co2eRatio(baseFixed, reuse),
    co2e_ratio_best: co2eRatio(baseBest, reuse),
    co2e_ratio_fixed_with_decomposition: co2eRatio(baseFixed, withDecomposition),
    co2e_ratio_best_with_decomposition: co2eRatio(baseBest, withDecomposition),
    engines: { reuse: opened[0]!.engine.name, baseline: baseline.engine },
    run_ids: { scenario: run.runId, baseline: baseline.runId },
    ...(baseline.bestEpoch !== undefined ? { baseline_best_epoch: baseline.bestEpoch } : {}),
    ...(baseline.converged !== undefined ? { baseline_converged: baseline.converged } : {}),
  };
}

/** Builds the scenario's modules and predicts with them on its test images (inside its run). */
async function compose(
  g: GridRun,
  s: Scenario,
  test: ReturnType<typeof gatherClasses>,
  rec: RunRecorder,
): Promise<Composed> {
  const { spec, opened, ctx } = g;
  // Build: one source per label, so column j of the composed scores votes for label j.
  const sources: ComposeSource[] = s.classes.map((c) => ({
    engine: opened[c.source]!.engine,
    set: opened[c.source]!.set,
    classes: [c.classIndex],
  }));
  const continual = s.kind === 'inter-reuse' ? await continualSources(s, opened) : null;
  const built = rec.energyNow();
  const composed = await composedScores(sources, test.images, test.count, { signal: ctx.signal });
  const M = s.classes.length;
  const top1 = topKAccuracy(composed.scores, test.labels, M, 1);
  const top5 = topKAccuracy(composed.scores, test.labels, M, Math.min(5, M));
  let mma: number | undefined;
  if (continual) {
    const c2 = await composedScores(continual, test.images, test.count, { signal: ctx.signal });
    mma = topKAccuracy(c2.scores, test.labels, M, 1);
  }
  let modelTop: { top1: number; top5: number } | undefined;
  if (spec.kind === 'replace') {
    // The trained model's own accuracy on its own test set, to compare against.
    const a = opened[0]!;
    const probs = await a.engine.predict(a.model.data.test.images, a.model.data.test.count);
    const n = a.plan.classes;
    modelTop = {
      top1: topKAccuracy(probs, a.model.data.test.labels, n, 1),
      top5: topKAccuracy(probs, a.model.data.test.labels, n, Math.min(5, n)),
    };
  }
  return { built, top1, top5, mma, modelTop };
}

/** Continuous learning: each module of an inter reuse learns the other dataset's classes as unconcerned. */
async function continualSources(s: Scenario, opened: DecomposedModel[]): Promise<ComposeSource[]> {
  const datas = opened.map((o) => o.model.data);
  const continual: ComposeSource[] = [];
  for (const c of s.classes) {
    const o = opened[c.source]!;
    const others = s.classes.filter((x) => x.source !== c.source);
    const idx: number[] = [];
    const perOther = Math.ceil(o.set.perClass / Math.max(1, others.length));
    const otherImages: Uint8Array[] = [];
    for (const x of others) {
      const set = datas[x.source]!.train;
      const pick: number[] = [];
      for (let i = 0; i < set.count && pick.length < perOther; i++)
        if (set.labels[i] === x.classIndex) pick.push(i);
      idx.push(...pick);
      otherImages.push(gather(set, pick));
    }
    const images = new Uint8Array(otherImages.reduce((n, a) => n + a.length, 0));
    let off = 0;
    for (const a of otherImages) {
      images.set(a, off);
      off += a.length;
    }
    const modified = await continualModule(o.engine, o.plan, o.set, c.classIndex, o.model.data.train, {
      images,
      count: idx.length,
    });
    continual.push({ engine: o.engine, set: { ...o.set, modules: [modified] }, classes: [c.classIndex] });
  }
  return continual;
}
