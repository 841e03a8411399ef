// A tfjs backend's figures: inference and training, without the worker pool and with it.
import type { BackendName } from '../../common/api.ts';
import { TfjsPool } from '../engine/tfjs/pool.ts';
import type { BenchRun } from './run.ts';
import { trainingFigure } from './training.ts';

export async function tfjsFigures(run: BenchRun, backend: BackendName): Promise<void> {
  const { batch, workers } = run.settings;
  const { images, per, model, label } = run;
  // An imported model is a stored plan, which the tfjs engines do not run.
  if (model.tfjs) return run.refused('backend', { backend, ...label }, model.tfjs);
  for (const pooled of [false, true]) {
    const started = await run.withEngine(
      backend,
      () => TfjsPool.create({ workers: pooled ? workers : 0, backend }),
      !pooled,
      async (pool) => {
        const base = {
          engine: 'tfjs' as const,
          backend,
          pool: pooled,
          workers: pool.size,
          ...label,
          batch,
        };
        const predict = async (n: number) =>
          void (await pool.predict(images, n, per, model.classes, Math.ceil(n / pool.size)));
        const estimate = await run.probeSeconds(predict, pool.size);
        if (estimate > run.stepBudget) run.skipped('inference', base, estimate);
        else await run.measure('inference', base, () => predict(batch));
        await trainingFigure(run, pool, base);
      },
    );
    if (!started) break;
  }
}
