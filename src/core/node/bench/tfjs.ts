// A tfjs backend's figures: inference and training, without the worker pool and with it.
import type { BackendName } from '../../common/api.ts';
import { TfjsPool } from '../engine/tfjs/pool.ts';
import { DEFAULT_PREPROCESS } from '../models/io.ts';
import type { BenchRun } from './run.ts';
import { trainingFigure } from './training.ts';

export async function tfjsFigures(run: BenchRun, backend: BackendName): Promise<void> {
  const { depth, size, batch, workers } = run.settings;
  const { images, per } = run;
  for (const pooled of [false, true]) {
    const started = await run.withEngine(
      backend,
      () => TfjsPool.create({ workers: pooled ? workers : 0, backend }),
      !pooled,
      async (pool) => {
        await pool.load(run.artifacts, DEFAULT_PREPROCESS);
        const base = {
          engine: 'tfjs' as const,
          backend,
          pool: pooled,
          workers: pool.size,
          depth,
          size,
          batch,
        };
        const predict = async (n: number) =>
          void (await pool.predict(images, n, per, 10, Math.ceil(n / pool.size)));
        const estimate = await run.probeSeconds(predict, pool.size);
        if (estimate > run.stepBudget) run.skipped('inference', base, estimate);
        else await run.measure('inference', base, () => predict(batch));
        await trainingFigure(run, pool, base);
      },
    );
    if (!started) break;
  }
}
