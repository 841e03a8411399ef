// The surface the trainer (and the bench) drive, whichever engine computes the gradients:
// the onnxruntime training graphs (onnx-train/) or the tfjs worker pool (pool.ts). Weights
// are one flat Float32Array in tfjs-layers order and layout, so the optimizer, the
// checkpoints and a resume are the same on every engine.
import type { BackendReport } from '../../common/api.ts';
import type { ModelArtifacts, Preprocess } from '../models/io.ts';
import type { WeightLayout } from './engine-core.ts';
import type { Augment } from './preprocess.ts';

export interface BatchResult {
  loss: number;
  correct: number;
  count: number;
}

export interface TrainingEngine {
  /** The authoritative weights, flat in model.weights order. Call weightsChanged() after writing. */
  weights: Float32Array<ArrayBufferLike>;
  /** Gradients of the last step's mean loss (non-trainable slots hold their new values). */
  grads: Float32Array;
  layout: WeightLayout | null;
  /** The engine that trains, and why faster ones are not active. */
  report: BackendReport | null;
  /** Threads or workers computing in parallel. */
  readonly size: number;
  /**
   * 'onnxruntime' when predict() runs on open onnxruntime sessions with the current weights
   * (evaluation needs no other engine); null when another engine is better for it.
   */
  readonly inference: 'onnxruntime' | null;
  load(artifacts: ModelArtifacts, pre: Preprocess): Promise<WeightLayout>;
  weightsChanged(): void;
  gradients(
    images: Uint8Array,
    labels: Int32Array,
    count: number,
    aug: Augment | null,
    imageBytes: number,
  ): Promise<BatchResult>;
  predict(
    images: Uint8Array,
    count: number,
    imageBytes: number,
    classes: number,
    chunk?: number,
  ): Promise<Float32Array>;
  close(): Promise<void>;
}
