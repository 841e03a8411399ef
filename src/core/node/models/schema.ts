// The shape of a model folder's model.json as we read it back (tfjs-layers format plus our own
// metadata), one schema each: checked whole before any weights file is opened, so a bad field
// is named instead of surfacing later as a raw error or a silently wrong figure.
import { MAX_IMAGE_SIDE } from '../../common/bounds.ts';
import { int, num, v } from '../../common/schema.ts';

/** A per-channel value: one number for every channel, or one per channel (1 or 3). */
const perChannel = (value: v.GenericSchema<number, number>) =>
  v.union(
    [
      value,
      v.pipe(
        v.array(value),
        v.minLength(1, 'must have 1 to 3 values'),
        v.maxLength(3, 'must have 1 to 3 values'),
      ),
    ],
    'must be a number or a list of 1 to 3 numbers',
  );

/**
 * How pixels become model inputs: x = (p - mean[c]) / std[c], where p is the pixel value as
 * stored (0..255, our own models) or scaled to 0..1 first (`scale: '0..1'`, as torchvision's
 * ToTensor and Keras' Rescaling(1/255) do: what imported models record).
 */
export const PREPROCESS = v.object({
  scale: v.optional(v.picklist(['0..255', '0..1'])),
  mean: perChannel(num(-1e6, 1e6)),
  std: perChannel(
    v.pipe(
      num(0, 1e6),
      v.check((s) => s > 0, 'must be above 0'),
    ),
  ),
});

const GREY = v.object({ sourceSize: int(1, MAX_IMAGE_SIDE), fit: v.picklist(['pad', 'resize']) });

/** What every model folder records about the model, whatever made it. */
const COMMON_META = {
  inputSize: int(1, MAX_IMAGE_SIDE),
  classes: int(1, 1_000_000),
  classNames: v.array(v.string()),
  datasetId: v.string(),
  /** The dataset's name as its list shows it (absent in models saved before it was recorded). */
  datasetName: v.optional(v.string()),
  preprocess: PREPROCESS,
  /** Trained on grey images (MNIST family): how they became its RGB input, for every later use. */
  grey: v.optional(GREY),
  training: v.optional(
    v.object({
      epochs: int(0, 1_000_000),
      bestEpoch: int(0, 1_000_000),
      seed: v.pipe(v.number(), v.integer('must be a whole number')),
      valAccuracy: v.number(),
      top1: v.optional(v.number()),
      top5: v.optional(v.number()),
      backend: v.string(),
      seconds: v.number(),
    }),
  ),
};

/** What every imported model's source records. */
const SOURCE_COMMON = {
  /** The file's name as it was imported (no folder). */
  file: v.string(),
  /** Of the file (a tfjs-layers folder: its model.json, then its weights). */
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex')),
  bytes: int(0, Number.MAX_SAFE_INTEGER),
  producer: v.object({ name: v.string(), version: v.string() }),
  /** The file's input layout (tf2onnx keeps Keras's NHWC; tfjs-layers is NHWC). */
  layout: v.picklist(['nchw', 'nhwc']),
  /** What the file's output was (a softmax is added to logits and replaces a log-softmax). */
  output: v.picklist(['logits', 'probabilities', 'log-probabilities']),
  /**
   * BatchNormalization nodes kept (`present`), folded into the convolutions by the exporter
   * (`folded`: exact for inference, but trained from scratch the architecture has none), or
   * never there (`none`).
   */
  batchNorm: v.picklist(['present', 'folded', 'none']),
  /** When it was imported (ISO 8601). */
  importedAt: v.string(),
};

/** Where an imported model came from: an ONNX file, or a tfjs-layers folder (tensorflowjs_converter's). */
export const IMPORT_SOURCE = v.variant('format', [
  v.object({ format: v.literal('onnx'), opset: int(1, 1000), irVersion: int(0, 1000), ...SOURCE_COMMON }),
  v.object({ format: v.literal('tfjs-layers'), ...SOURCE_COMMON }),
]);

/** Our facts about a model (userDefinedMetadata.decomposer, or plan.json's metadata). */
export const MODEL_META = v.variant('architecture', [
  v.object({
    architecture: v.literal('resnet'),
    depth: int(1, 10_000),
    batchNorm: v.boolean(),
    ...COMMON_META,
  }),
  v.object({ architecture: v.literal('imported'), source: IMPORT_SOURCE, ...COMMON_META }),
]);

/** One weight of the manifest: float32 values (what the reader sizes them as), unquantized. */
const WEIGHT = v.object({
  name: v.string(),
  shape: v.pipe(v.array(int(0, 2 ** 31 - 1)), v.maxLength(8, 'must have at most 8 dimensions')),
  dtype: v.literal('float32'),
  group: v.optional(v.picklist(['model', 'optimizer'])),
  quantization: v.optional(v.never('quantized weights are not supported')),
});

/** model.json: the topology, where the weights are (paths relative to the folder) and our metadata. */
export const MODEL_MANIFEST = v.object({
  modelTopology: v.record(v.string(), v.unknown()),
  weightsManifest: v.array(
    v.object({
      paths: v.pipe(v.array(v.pipe(v.string(), v.minLength(1, 'must not be empty'))), v.minLength(1)),
      weights: v.array(WEIGHT),
    }),
  ),
  userDefinedMetadata: v.optional(v.object({ decomposer: v.optional(MODEL_META) })),
});

/** The plan's layer types (tfjs-layers' class names; ZeroPadding2D is a plan's explicit zero pad). */
export const PLAN_CLASSES = [
  'InputLayer',
  'Conv2D',
  'Dense',
  'Activation',
  'ReLU',
  'Softmax',
  'Add',
  'BatchNormalization',
  'AveragePooling2D',
  'MaxPooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Flatten',
  'ZeroPadding2D',
  'Dropout',
] as const;

const pair = v.pipe(v.array(int(0, 1_000_000)), v.length(2, 'must have 2 values'));

/**
 * One layer of a stored plan: its type, inputs and attributes. Shapes are not stored: the
 * reader computes them from the input and the weights (named `<layer>/kernel`, `/bias`,
 * `/gamma`, `/beta`, `/moving_mean`, `/moving_variance` in the manifest), so a plan that
 * does not add up is refused rather than run.
 */
export const PLAN_NODE = v.object({
  name: v.pipe(v.string(), v.minLength(1, 'must not be empty')),
  className: v.picklist(PLAN_CLASSES),
  inputs: v.array(v.string()),
  /** InputLayer: [H, W, C]. */
  shape: v.optional(v.pipe(v.array(int(1, 1_000_000)), v.length(3, 'must be [H, W, C]'))),
  /** Conv2D, Dense, Activation: the activation applied (default linear). */
  activation: v.optional(v.picklist(['linear', 'relu', 'relu6', 'softmax', 'sigmoid', 'tanh'])),
  strides: v.optional(pair),
  /** Conv2D, pooling, ZeroPadding2D: [top, left, bottom, right]. */
  pads: v.optional(v.pipe(v.array(int(0, 1_000_000)), v.length(4, 'must have 4 values'))),
  poolSize: v.optional(pair),
  /** AveragePooling2D: the padding counts in each window's average. */
  countPad: v.optional(v.boolean()),
  epsilon: v.optional(num(0, 1)),
  momentum: v.optional(num(0, 1)),
  /** Where the layer came from (an imported model's ONNX operators and node). */
  source: v.optional(v.string()),
});
export type PlanNodeSpec = v.InferOutput<typeof PLAN_NODE>;

/** A stored plan's layers in topological order, and which are the input and the output. */
export const PLAN_SPEC = v.object({
  input: v.string(),
  output: v.string(),
  nodes: v.pipe(v.array(PLAN_NODE), v.minLength(2, 'must hold the input and at least one layer')),
});
export type PlanSpec = v.InferOutput<typeof PLAN_SPEC>;

/** plan.json: a model folder that holds a plan (an imported model) rather than a tfjs-layers topology. */
export const PLAN_FILE = v.object({
  format: v.literal('decomposer-plan'),
  version: v.literal(1),
  plan: PLAN_SPEC,
  weightsManifest: MODEL_MANIFEST.entries.weightsManifest,
  metadata: v.optional(MODEL_META),
});
