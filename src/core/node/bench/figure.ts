// What every figure of the bench shares: its settings, the figure objects it emits (one JSON
// line each with --json, key=value pairs otherwise) and how their numbers are rounded.
import type { BackendName } from '../../common/api.ts';

/** The bench's settings, as the CLI's options give them (`decomposer bench --help`). */
export interface BenchSettings {
  /** ResNet depth and input side of the engine figures, unless `model` is given. */
  depth: number;
  size: number;
  /** A model folder whose figures to measure instead of a ResNet's (null: the ResNet). */
  model: string | null;
  batch: number;
  /** Time budget per figure. */
  seconds: number;
  /** Pool size (and PyTorch's and onnxruntime's threads). */
  workers: number;
  /** The engines measured, in this order. */
  backends: readonly BackendName[];
  /** The engine the memory figure trains on: null for the one training would choose. */
  memoryBackend: BackendName | null;
  /** Interleave each figure with PyTorch where it is installed. */
  torch: boolean;
  /** The decomposition-vs-epoch, composed evaluation and portable modules figures. */
  decomposition: boolean;
  /** Concerned (and as many unconcerned) images per class the decomposition observes. */
  perClass: number;
  /** The ResNet-56 memory figure. */
  memory: boolean;
  /** The run database whose newest finished grid gives the CO2e ratio figure. */
  dbFile: string;
}

/** One figure: its name and its fields, in the order they are printed. */
export type BenchFigure = { figure: string; [field: string]: unknown };

export type Emit = (figure: BenchFigure) => void;

/**
 * What a figure says of the model it measured: the ResNet the bench builds (depth, input side),
 * or a model folder (its name, where it came from, its input as height x width x channels).
 */
export type ModelLabel = { depth: number; size: number } | { model: string; source: string; input: string };

/** The fields of an inference or training figure of one engine, besides the model's (ModelLabel). */
interface EngineFields {
  figure: 'inference' | 'training';
  engine: 'tfjs' | 'onnxruntime';
  /** onnxruntime's device. */
  device?: 'cpu' | 'gpu';
  /** onnxruntime: intra-op threads per session (worker). */
  threads?: number;
  backend: BackendName;
  pool: boolean;
  workers: number;
  batch: number;
  images_per_second: number;
  torch_images_per_second?: number;
  ratio_to_torch?: number;
  /** Interleaved with PyTorch: alternating rounds, per-step images/s of each side. */
  rounds?: number;
  steps?: number;
  min?: number;
  median?: number;
  max?: number;
  torch_steps?: number;
  torch_min?: number;
  torch_median?: number;
  torch_max?: number;
  /** PyTorch's OpenMP wait policy that ran faster in this figure's rounds. */
  torch_wait_policy?: string;
  ratio_of_medians?: number;
  ratio_of_bests?: number;
}

/** What an engine figure says before it is measured. */
export type EngineBase = Omit<EngineFields, 'figure' | 'images_per_second'> & ModelLabel;

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round2 = (x: number) => Math.round(x * 100) / 100;
export const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The message of a failure, for a figure's `reason`. */
export const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
