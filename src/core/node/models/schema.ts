// The shape of a model folder's model.json as we read it back (tfjs-layers format plus our own
// metadata), one schema each: checked whole before any weights file is opened, so a bad field
// is named instead of surfacing later as a raw error or a silently wrong figure.
import { MAX_IMAGE_SIDE } from '../../common/bounds.ts';
import { int, num, v } from '../../common/schema.ts';

/** How pixels become model inputs: x = (pixel - mean) / std, for every channel. */
export const PREPROCESS = v.object({
  mean: num(-1e6, 1e6),
  std: v.pipe(
    num(0, 1e6),
    v.check((s) => s > 0, 'must be above 0'),
  ),
});

const GREY = v.object({ sourceSize: int(1, MAX_IMAGE_SIDE), fit: v.picklist(['pad', 'resize']) });

/** Our facts about a model (userDefinedMetadata.decomposer). */
export const MODEL_META = v.object({
  architecture: v.literal('resnet'),
  depth: int(1, 10_000),
  batchNorm: v.boolean(),
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
});

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
