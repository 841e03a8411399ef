// The memory figure: a few training steps of ResNet-56 on 64x64 inputs at batch 64 on the
// engine training would choose, and the process's peak memory.
import { createTrainingEngine } from '../engine/training.ts';
import { DEFAULT_PREPROCESS, modelToArtifacts } from '../models/io.ts';
import { buildResNet } from '../models/resnet.ts';
import { EngineAdam } from '../train/adam.ts';
import type { BenchRun } from './run.ts';

export async function memoryFigure(run: BenchRun): Promise<void> {
  const { rng } = run;
  const big = buildResNet({ depth: 56, inputSize: 64, classes: 200, seed: 1 });
  const bigArtifacts = await modelToArtifacts(big);
  big.dispose();
  const pool = createTrainingEngine({ workers: run.settings.workers, backend: run.settings.memoryBackend });
  try {
    const layout = await pool.load(bigArtifacts, DEFAULT_PREPROCESS);
    const bigPer = 64 * 64 * 3;
    const bigImages = Uint8Array.from({ length: 64 * bigPer }, () => rng.int(256));
    const bigLabels = Int32Array.from({ length: 64 }, () => rng.int(200));
    const optimizer = new EngineAdam(pool, layout);
    const t0 = performance.now();
    for (let s = 0; s < 3; s++) await optimizer.step(bigImages, bigLabels, 64, null, bigPer);
    const ips = (3 * 64) / ((performance.now() - t0) / 1000);
    // maxRSS covers the whole process, worker threads included (kilobytes).
    run.emit({
      figure: 'memory',
      depth: 56,
      size: 64,
      batch: 64,
      workers: pool.size,
      backend: pool.report?.active,
      peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
      training_images_per_second: Math.round(ips * 10) / 10,
    });
  } finally {
    await pool.close();
  }
}
