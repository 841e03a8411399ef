// Bringing your own model: an ONNX file imported into a model folder (one schema for what the
// app and the command line give), and where an imported model came from, as the app shows it.
import { MEAN_VALUE, STD_VALUE } from './bounds.ts';
import { DATASET_ID, PATH, fields, v } from './schema.ts';

/** The preprocessing values of one model: 1 value (every channel) or 1 per channel, at most 3. */
const channelValues = (value: v.GenericSchema<number, number>) =>
  v.pipe(
    v.array(value, 'must be a list of numbers'),
    v.minLength(1, 'must have 1 to 3 values'),
    v.maxLength(3, 'must have 1 to 3 values'),
  );

export const MEAN = channelValues(MEAN_VALUE.schema);
export const STD = channelValues(STD_VALUE.schema);

export const MODEL_LAYOUTS = ['nchw', 'nhwc'] as const;

export const IMPORT_MODEL_PARAMS = fields({
  /** The .onnx file. */
  file: PATH,
  /** The model folder to write (new, or without a model in it). */
  out: PATH,
  /** A dataset id from listDatasets: the model's classes and the images it is judged on. */
  dataset: DATASET_ID,
  /** The class names in the order of the model's outputs (null: the dataset's). */
  classes: v.nullish(
    v.pipe(
      v.array(v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be a name'))),
      v.minLength(2, 'must name at least 2 classes'),
      v.maxLength(100_000, 'must name at most 100000 classes'),
    ),
  ),
  /** Per channel after scaling pixels to 0..1, as torchvision's Normalize (null: 0 and 1). */
  mean: v.nullish(MEAN),
  std: v.nullish(STD),
  /** The input's layout (null: read from its shape). */
  layout: v.nullish(v.picklist(MODEL_LAYOUTS, 'must be nchw or nhwc')),
  /** Grey (MNIST-family) images of another size than the model's: padded or resized (null: pad). */
  fit: v.nullish(v.picklist(['pad', 'resize'], 'must be pad or resize')),
});
export type ImportModelParams = v.InferOutput<typeof IMPORT_MODEL_PARAMS>;

/** Where an imported model came from (the model folder's record of it). */
export interface ModelSource {
  file: string;
  sha256: string;
  bytes: number;
  /** An ONNX file, or a tfjs-layers folder (tensorflowjs_converter's). */
  format: 'onnx' | 'tfjs-layers';
  producer: { name: string; version: string };
  /** The ONNX opset (null: a tfjs-layers folder). */
  opset: number | null;
  layout: 'nchw' | 'nhwc';
  output: 'logits' | 'probabilities' | 'log-probabilities';
  batchNorm: 'present' | 'folded' | 'none';
  importedAt: string;
}

/** What an import made. */
export interface ImportedModelView {
  dir: string;
  source: ModelSource;
  /** [H, W, C]. */
  inputShape: number[];
  classNames: string[];
  datasetId: string;
  datasetName: string;
  /** The preprocessing recorded, in words: "(p / 255 - 0.286) / 0.353". */
  preprocess: string;
  /** The plan's layers by type ("Conv2D 20, BatchNormalization 20, ..."). */
  layers: string;
  /** Things to know: a folded batch normalisation, a dropout exported in training mode. */
  notes: string[];
}
