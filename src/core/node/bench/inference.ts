// The inference engine's figures, measured in one run so the ratios are comparable on a noisy
// machine: ResNet images/s through onnxruntime-node, and module evaluations/s (predictMasked
// with a different mask set each call). The tfjs engines' inference is in tfjs.ts.
import type { BackendName } from '../../common/api.ts';
import { initBackend } from '../graph/backend.ts';
import { DEFAULT_PREPROCESS, modelToArtifacts } from '../models/io.ts';
import { buildResNet } from '../models/resnet.ts';
import { openInference } from '../inference/index.ts';
import type { MaskSet } from '../inference/types.ts';
import { reasonOf } from './figure.ts';
import type { BenchRun } from './run.ts';
import { interleaved } from './torch.ts';

interface InferenceBenchOptions {
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

interface InferenceBenchResult {
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

async function benchInference(opts: InferenceBenchOptions = {}): Promise<InferenceBenchResult> {
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

/**
 * The `inference` figure of onnxruntime-node and its `module_evaluations` (a new mask set each
 * call), or why it is not available. Measured after the training engines are gone, so none
 * steals its cores.
 */
export async function onnxInferenceFigures(run: BenchRun): Promise<void> {
  const { depth, size, batch, seconds, workers } = run.settings;
  const { torch, emit } = run;
  try {
    const r = await benchInference({
      depth,
      inputSize: size,
      batch,
      seconds: Math.max(seconds, 0.5),
      threads: workers,
      timeOnnx: torch ? (step) => interleaved(torch, 'infer', step, batch, seconds) : undefined,
    });
    const ips = Math.round(r.onnxImagesPerSec * 10) / 10;
    emit({
      figure: 'inference',
      engine: 'onnxruntime',
      threads: r.threads,
      depth,
      size,
      batch,
      images_per_second: ips,
      ...r.onnxFigure,
    });
    emit({
      figure: 'module_evaluations',
      engine: 'onnxruntime',
      threads: r.threads,
      depth,
      size,
      batch,
      evaluations_per_second: Math.round(r.maskedEvalsPerSec * 100) / 100,
      images_per_second: Math.round(r.maskedImagesPerSec * 10) / 10,
    });
  } catch (e) {
    emit({ figure: 'inference', engine: 'onnxruntime', available: false, reason: reasonOf(e) });
  }
}
