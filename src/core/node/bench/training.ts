// Training figures: images/s of Adam steps on one engine, and the onnxruntime training
// engine's figures (one session with every thread, then the worker pool training uses).
import { OnnxTrainEngine } from '../engine/onnx-train/engine.ts';
import { OnnxTrainPool } from '../engine/onnx-train/pool.ts';
import { poolShape, trainingThreads } from '../engine/training.ts';
import type { TrainingEngine } from '../engine/training-engine.ts';
import { loadOrt } from '../graph/ort.ts';
import { EngineAdam } from '../train/adam.ts';
import type { EngineBase } from './figure.ts';
import type { BenchRun } from './run.ts';

/** The training figure of an engine holding the bench's model (skipped where one step would not fit). */
export async function trainingFigure(run: BenchRun, engine: TrainingEngine, base: EngineBase): Promise<void> {
  const { images, labels, per } = run;
  const optimizer = new EngineAdam(engine, engine.layout!);
  const step = async (n: number) =>
    void (await optimizer.step(images.subarray(0, n * per), labels.subarray(0, n), n, null, per));
  const estimate = await run.probeSeconds(step, engine.size);
  if (estimate > run.stepBudget) return run.skipped('training', base, estimate);
  const ips = await run.measure('training', base, () => step(run.settings.batch));
  run.bestTrainingRate = Math.max(run.bestTrainingRate, ips);
}

/**
 * The training graphs on onnxruntime-node: one session with every thread, and the worker
 * threads training uses on the CPU (whole steps side by side, poolShape).
 */
export async function onnxTrainingFigures(run: BenchRun): Promise<void> {
  const { batch, workers } = run.settings;
  const { model, label } = run;
  const backend = 'onnxruntime';
  if (model.onnxTraining)
    return run.refused('training', { engine: 'onnxruntime', backend, ...label, batch }, model.onnxTraining);
  const threads = trainingThreads(workers);
  const shape = poolShape(threads);
  for (const pooled of [false, true]) {
    if (pooled && !shape) break;
    const started = await run.withEngine(
      backend,
      async () =>
        pooled
          ? new OnnxTrainPool(shape!.workers, { threads: shape!.threads })
          : new OnnxTrainEngine(await loadOrt(), { threads }),
      true,
      (engine) =>
        trainingFigure(run, engine, {
          engine: 'onnxruntime',
          device: engine.device?.active ?? 'cpu',
          backend,
          pool: pooled,
          workers: pooled ? shape!.workers : 1,
          threads: pooled ? shape!.threads : threads,
          ...label,
          batch,
        }),
    );
    if (!started) break;
  }
}
