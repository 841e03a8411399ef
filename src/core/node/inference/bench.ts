// Measures inference speed in one run, so the ratios are comparable on a noisy machine:
// ResNet images/s through onnxruntime-node, and module evaluations/s (predictMasked with a
// different mask set each call). The bench measures the tfjs engines itself.
import type { BackendName } from '../../common/api.ts';
import { initBackend } from '../graph/backend.ts';
import { DEFAULT_PREPROCESS, modelToArtifacts } from '../models/io.ts';
import { buildResNet } from '../models/resnet.ts';
import { openInference } from './index.ts';
import type { MaskSet } from './types.ts';

export interface InferenceBenchOptions {
  depth?: number;
  inputSize?: number;
  classes?: number;
  batch?: number;
  /** Seconds per measurement. */
  seconds?: number;
  threads?: number;
  /** The tfjs backend that builds the model (default: the fastest). */
  backend?: BackendName | null;
  /**
   * Times the onnxruntime figure instead of `seconds` alone (e.g. alternating rounds with
   * another framework); its result is returned as `onnxFigure`.
   */
  timeOnnx?: (step: () => Promise<void>) => Promise<{ images_per_second: number }>;
}

export interface InferenceBenchResult {
  model: string;
  batch: number;
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

export async function benchInference(opts: InferenceBenchOptions = {}): Promise<InferenceBenchResult> {
  const depth = opts.depth ?? 20;
  const size = opts.inputSize ?? 32;
  const classes = opts.classes ?? 10;
  const batch = opts.batch ?? 64;
  const seconds = opts.seconds ?? 3;
  await initBackend(opts.backend ?? null);
  const model = buildResNet({ depth, inputSize: size, classes, seed: 1 });
  const artifacts = await modelToArtifacts(model);
  model.dispose();
  const per = size * size * 3;
  const images = new Uint8Array(batch * per);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;

  const engine = await openInference(artifacts, {
    engine: 'onnxruntime',
    batchSize: batch,
    threads: opts.threads,
    preprocess: DEFAULT_PREPROCESS,
  });
  let onnx: number;
  let onnxFigure: Record<string, number> | null = null;
  let masked: number;
  try {
    if (opts.timeOnnx) {
      onnxFigure = await opts.timeOnnx(async () => void (await engine.predict(images, batch)));
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
    model: `ResNet-${depth} ${size}x${size}`,
    batch,
    threads: engine.report.threads,
    onnxImagesPerSec: onnx,
    onnxFigure,
    maskedEvalsPerSec: masked,
    maskedImagesPerSec: masked * batch,
  };
}
