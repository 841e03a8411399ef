// A scenario's baseline: the same architecture trained from scratch on exactly the scenario's
// classes and data, until its validation accuracy stops improving; trained once per class set
// and shared by the scenarios on the same images.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { EnergyRecord } from '../../energy/formula.ts';
import { trainAndRecord } from '../../measure/training.ts';
import { architectureNote } from '../../train/architecture.ts';
import { scenarioDataset, type Scenario } from '../../reuse/scenario.ts';
import { trainingEngineName, type TrainResult } from '../../train/trainer.ts';
import { costBetween } from '../costs.ts';
import { quietRuns, type GridRun } from './grid-run.ts';
import { imagesKey } from './plan.ts';
import type { BaselineResult } from './types.ts';

/** Trains the same architecture from scratch on exactly the scenario's classes and data. */
export async function runBaseline(g: GridRun, s: Scenario): Promise<BaselineResult> {
  const { spec, opened, ctx, gridId, done } = g;
  const key = imagesKey(s);
  const known =
    ctx.knownBaselines?.get(key) ?? (done.get(`baseline:${key}`)?.row as BaselineResult | undefined);
  if (known) return known;
  const data = scenarioDataset(
    opened.map((o) => o.model.data),
    s,
  );
  const runDir = path.join(
    ctx.workDir,
    'baselines',
    createHash('sha256').update(`${gridId}|${key}`).digest('hex').slice(0, 16),
  );
  const note = spec.baseline.architecture ? await architectureNote(spec.baseline.architecture) : null;
  if (note) ctx.onInfo?.(`baseline: ${note}`);
  ctx.onInfo?.(
    `baseline: training ${spec.baseline.architecture ? `the architecture of ${spec.baseline.architecture}` : `ResNet-${spec.baseline.depth}`} from scratch on ${data.info.classNames.length} classes (${data.train.count} images, until validation accuracy stops improving for ${spec.baseline.patience} epochs, at most ${spec.baseline.epochs})…`,
  );
  const recorded = await trainAndRecord({
    ...quietRuns(ctx),
    role: 'baseline',
    scenario: key,
    runDir,
    data,
    config: {
      depth: spec.baseline.depth,
      epochs: spec.baseline.epochs,
      patience: spec.baseline.patience,
      batchSize: spec.baseline.batchSize,
      seed: spec.seed,
    },
    workers: ctx.workers,
    backend: ctx.backend,
    ...(spec.baseline.architecture ? { architecture: spec.baseline.architecture } : {}),
    params: { grid: gridId, baseline: key, classes: data.info.classNames, ...spec.baseline },
    label: `baseline ${data.info.name}`,
    cancelled: { message: 'The baseline training was cancelled.', hint: 'Run the grid again to resume it.' },
  });
  const b = baselineFrom(recorded.result, recorded.energy, recorded.runId);
  ctx.store.grids.putRow(gridId, `baseline:${key}`, 'baseline', b, recorded.runId);
  // Scenarios on the same classes share this baseline.
  done.set(`baseline:${key}`, { row: b, runId: recorded.runId });
  return b;
}

/** A baseline's accuracy and costs from its training run and recorded energy. */
export function baselineFrom(
  r: TrainResult,
  e: { energy: EnergyRecord; fixedEpochs: EnergyRecord | null; untilBest: EnergyRecord | null },
  runId: number | null,
): BaselineResult {
  const fixed = e.fixedEpochs ?? e.energy;
  return {
    tma: r.top1,
    fixed: costBetween(null, fixed),
    best: costBetween(null, e.untilBest ?? fixed),
    // After the last epoch: the test-set evaluation (and saving the model).
    predict: costBetween(fixed, e.energy),
    engine: trainingEngineName(r.backend),
    runId,
    bestEpoch: r.bestEpoch,
    converged: r.converged,
  };
}
