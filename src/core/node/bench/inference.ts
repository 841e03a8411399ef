// The inference engine's figures, measured in one run so the ratios are comparable on a noisy
// machine: the model's images/s through onnxruntime-node, and module evaluations/s (predictMasked
// with a different mask set each call). The tfjs engines' inference is in tfjs.ts.
import { openInference } from '../inference/index.ts';
import type { MaskSet } from '../inference/types.ts';
import { reasonOf } from './figure.ts';
import type { BenchRun } from './run.ts';
import { interleaved } from './torch.ts';

interface InferenceBenchResult {
  threads: number;
  onnxImagesPerSec: number;
  onnxFigure: Record<string, number> | null;
  maskedEvalsPerSec: number;
  maskedImagesPerSec: number;
}

async function timed(seconds: number, step: () => Promise<number>): Promise<number> {
  await step(); // warm-up
  let items = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) items += await step();
  return items / ((performance.now() - t0) / 1000);
}

/**
 * The model's images/s on onnxruntime-node (timed by `timeOnnx` where given, e.g. in rounds
 * alternating with PyTorch, else alone for `seconds`), and its module evaluations/s.
 */
async function benchInference(
  run: BenchRun,
  seconds: number,
  timeOnnx?: (step: () => Promise<void>) => Promise<{ images_per_second: number }>,
): Promise<InferenceBenchResult> {
  const { batch, workers } = run.settings;
  const { model, per } = run;
  const images = new Uint8Array(batch * per);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;

  const engine = await openInference(model.artifacts, {
    engine: 'onnxruntime',
    batchSize: batch,
    threads: workers,
    preprocess: model.preprocess,
  });
  let onnx: number;
  let onnxFigure: Record<string, number> | null = null;
  let masked: number;
  try {
    if (timeOnnx) {
      onnxFigure = await timeOnnx(async () => void (await engine.predict(images, batch)));
      onnx = onnxFigure.images_per_second;
    } else onnx = await timed(seconds, async () => (await engine.predict(images, batch), batch));
    let seed = 1;
    masked = await timed(seconds, async () => {
      // A different module each call: keep a random ~70% of each layer's positions.
      const masks: MaskSet = new Map();
      for (const { name, shape } of engine.layout.maskable) {
        const m = new Float32Array(shape.reduce((a, b) => a * b, 1));
        for (let i = 0; i < m.length; i++) {
          seed = (seed * 1103515245 + 12345) >>> 0;
          m[i] = seed >>> 16 < 45875 ? 1 : 0;
        }
        masks.set(name, m);
      }
      await engine.predictMasked(images, batch, masks);
      return 1;
    });
  } finally {
    await engine.close();
  }

  return {
    threads: engine.report.threads,
    onnxImagesPerSec: onnx,
    onnxFigure,
    maskedEvalsPerSec: masked,
    maskedImagesPerSec: masked * batch,
  };
}

/**
 * The `inference` figure of onnxruntime-node and its `module_evaluations` (a new mask set each
 * call), or why it is not available. Measured after the training engines are gone, so none
 * steals its cores.
 */
export async function onnxInferenceFigures(run: BenchRun): Promise<void> {
  const { batch, seconds } = run.settings;
  const { torch, emit, label } = run;
  try {
    const r = await benchInference(
      run,
      Math.max(seconds, 0.5),
      torch ? (step) => interleaved(torch, 'infer', step, batch, seconds) : undefined,
    );
    const ips = Math.round(r.onnxImagesPerSec * 10) / 10;
    emit({
      figure: 'inference',
      engine: 'onnxruntime',
      threads: r.threads,
      ...label,
      batch,
      images_per_second: ips,
      ...r.onnxFigure,
    });
    emit({
      figure: 'module_evaluations',
      engine: 'onnxruntime',
      threads: r.threads,
      ...label,
      batch,
      evaluations_per_second: Math.round(r.maskedEvalsPerSec * 100) / 100,
      images_per_second: Math.round(r.maskedImagesPerSec * 10) / 10,
    });
  } catch (e) {
    emit({ figure: 'inference', engine: 'onnxruntime', ...label, available: false, reason: reasonOf(e) });
  }
}
