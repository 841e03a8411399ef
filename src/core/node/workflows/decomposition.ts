// The paper's Table 1 for one model as a recorded run, the same for `decomposer experiment
// decomposition`, the app's Decompose job and the demo: the model's accuracy, one module set
// per approach from one observation pass, each composed on the test set, the sets saved next
// to the model, and the run's energy.
import type { LoadedDataset } from '../../common/dataset.ts';
import {
  saveModuleSet,
  table1,
  type Approach,
  type DecomposeOptions,
  type Table1,
} from '../decompose/index.ts';
import { openInference } from '../inference/index.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { measured, type MeasureContext, type Measured } from '../measure/measured.ts';
import path from 'node:path';

export interface Table1Options {
  approaches?: Approach[];
  perClass: number;
  /** Unconcerned images per module (default: perClass). */
  unconcerned?: number;
  delta?: number;
  point?: DecomposeOptions['point'];
  /** Several observation points side by side (every approach at each). */
  points?: DecomposeOptions['points'];
  /** Several MC-BLN rules and thresholds (one row per approach and variant). */
  variants?: DecomposeOptions['variants'];
  rule?: DecomposeOptions['rule'];
  seed: number;
  /** Save the module sets next to the model (default true). */
  save?: boolean;
  inference?: 'auto' | 'onnxruntime' | 'tfjs';
}

/** Table 1 as JSON (fractions in [0, 1], seconds): the recorded result and the CLI's output. */
export function table1Json(t: Table1) {
  return {
    model: t.model,
    test_images: t.testImages,
    decomposition: t.rows.map((r) => ({
      approach: r.approach,
      point: r.point,
      rule: r.rule,
      delta: r.delta,
      top1: r.top1,
      top5: r.top5,
      ji: r.ji,
      ji_modules: r.jiModules,
      seconds: r.seconds,
      eval_seconds: r.evalSeconds,
    })),
    observe_seconds: t.observeSeconds,
    compose_ratio: t.composeRatio,
    module_evaluations_per_second: t.moduleEvaluationsPerSecond,
    warnings: t.sets[0]?.warnings ?? [],
  };
}

export interface RecordedTable1Options extends Table1Options {
  label?: string;
  /** Called with the run's id once it is recorded as running. */
  onRunId?: (id: number) => void;
  onProgress?: (fraction: number, stage: string) => void;
}

/** Table 1 of a trained model on its dataset, measured and recorded as a decompose run. */
export async function recordedTable1(
  ctx: MeasureContext,
  model: { dir: string; plan: ModelPlan; data: LoadedDataset },
  o: RecordedTable1Options,
): Promise<Measured<{ table: Table1; dirs: string[] }>> {
  const { label, onRunId, onProgress, save = true, inference = 'auto', ...settings } = o;
  const { data } = model;
  return measured(
    ctx,
    {
      kind: 'decompose',
      label,
      params: {
        experiment: 'decomposition',
        model_dir: path.resolve(model.dir),
        dataset: data.info.id,
        ...settings,
      },
      onStart: (rec) => onRunId?.(rec.id),
      outcome: ({ table, dirs }) => ({ result: { ...table1Json(table), modules_dirs: dirs } }),
    },
    async () => {
      const engine = await openInference(model.dir, { engine: inference });
      try {
        const table = await table1(engine, model.plan, data.train, data.test, {
          ...settings,
          classNames: data.info.classNames,
          signal: ctx.signal,
          onProgress,
        });
        const dirs: string[] = [];
        if (save) onProgress?.(1, 'Saving the module sets');
        if (save) for (const s of table.sets) dirs.push(await saveModuleSet(model.dir, s));
        return { table, dirs };
      } finally {
        await engine.close();
      }
    },
  );
}
