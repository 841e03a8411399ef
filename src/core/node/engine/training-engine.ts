// The surface the trainer (and the bench) drive, whichever engine computes the gradients:
// the onnxruntime training graphs (onnx-train/) or tfjs (tfjs/), each alone or as a
// data-parallel pool (pool.ts). Weights are one flat Float32Array in tfjs-layers order and
// layout, so the optimizer, the checkpoints and a resume are the same on every engine. The
// types every engine speaks are defined here.
import type { BackendReport } from '../../common/api.ts';
import type { ModelArtifacts, Preprocess } from '../models/io.ts';

/** Where the flat weights hold each weight (model.weights order). */
export interface WeightLayout {
  names: string[];
  shapes: number[][];
  offsets: number[];
  sizes: number[];
  trainable: boolean[];
  total: number;
}

/** Per image of a batch: shift in pixels (pad-and-crop) and whether to mirror (augment.ts). */
export interface Augment {
  dx: Int8Array;
  dy: Int8Array;
  flip: Uint8Array;
}

/** A batch's (or a share's) mean loss and top-1 hits. */
export interface BatchResult {
  loss: number;
  correct: number;
  count: number;
}

/** Where an engine computes: the CPU, or a GPU through onnxruntime's execution provider. */
export interface DeviceChoice {
  active: 'cpu' | 'gpu';
  /** Execution providers in order ('cpu' last). */
  providers: string[];
  provider: string;
  reason?: string;
}

export interface TrainingEngine {
  /** The authoritative weights, flat in model.weights order. Call weightsChanged() after writing. */
  weights: Float32Array<ArrayBufferLike>;
  /** Gradients of the last step's mean loss (non-trainable slots hold their new values). */
  grads: Float32Array<ArrayBufferLike>;
  layout: WeightLayout | null;
  /** The engine that trains, and why faster ones are not active. */
  report: BackendReport | null;
  /** Where it computes, once a model is loaded (onnxruntime); null: the CPU, as tfjs always does. */
  readonly device: DeviceChoice | null;
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
