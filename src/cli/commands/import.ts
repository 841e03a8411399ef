// decomposer import: an ONNX CNN (PyTorch, Keras through tf2onnx or Keras 3, a model zoo)
// into a model folder every --model command takes.
import { COMMON_ARGS, type Command } from '../command.ts';
import { dataHomeOf, HOME_ARGS, listOf } from '../options.ts';
import { parseDatasetOption } from '../models.ts';
import { EXIT, info, interruptSignal, print, printJson, stageProgress } from '../output.ts';
import { DATASET_HELP } from '../datasets.ts';
import { MEAN_VALUE, STD_VALUE } from '../../core/common/bounds.ts';
import { UserError } from '../../core/common/errors.ts';
import { MODEL_LAYOUTS } from '../../core/common/models.ts';
import { PATH, v } from '../../core/common/schema.ts';
import { importModel } from '../../core/node/workflows/import-model.ts';

const IMPORT_ARGS = v.object({
  ...COMMON_ARGS,
  ...HOME_ARGS,
  out: v.optional(PATH),
  dataset: v.optional(v.string()),
  classes: v.optional(listOf(v.pipe(v.string(), v.minLength(1, 'must not be empty')))),
  mean: v.optional(v.pipe(listOf(MEAN_VALUE.text), v.maxLength(3, 'must have 1 to 3 values'))),
  std: v.optional(v.pipe(listOf(STD_VALUE.text), v.maxLength(3, 'must have 1 to 3 values'))),
  layout: v.optional(v.picklist(MODEL_LAYOUTS, 'must be nchw or nhwc')),
  fit: v.optional(v.picklist(['pad', 'resize'], 'must be pad or resize')),
});

export const importCommand: Command<v.InferOutput<typeof IMPORT_ARGS>> = {
  name: 'import',
  summary: 'import an ONNX CNN (from PyTorch, Keras or a model zoo) as a model folder',
  usage: `Usage: decomposer import FILE.onnx|TFJS_DIR --out DIR --dataset NAME [options]

Reads an ONNX image classifier (torch.onnx.export, tf2onnx, Keras 3's ONNX export), or a
tfjs-layers folder (tensorflowjs_converter's), into a model folder that every --model command takes: predict, evaluate, decompose (and
--export-onnx), experiment decomposition, wizard. Conv, BatchNormalization, ReLU/ReLU6, Add,
Max/Average/GlobalAveragePool, Flatten, Gemm/MatMul, Softmax, Dropout, Pad and NHWC inputs
are read; any other operator is refused by name, and nothing is written.

  -o, --out DIR       the model folder to write (new, or without a model in it)
  -d, --dataset NAME  the dataset the model was trained on: its classes (in the order of the
                      model's outputs) and the images it is judged on, read at the model's
                      input size (${DATASET_HELP})
  --classes A,B,...   the class names in the order of the model's outputs (default: the
                      dataset's)
  --mean M[,M2,M3]    per channel, after scaling pixels to 0..1, as torchvision's Normalize
  --std S[,S2,S3]     (default mean 0, std 1: x / 255); one value for every channel, or one each
  --layout L          nchw | nhwc: the input's layout (default: read from its shape)
  --fit pad|resize    grey (MNIST-family) images of another size than the model's: centred on
                      a black canvas (pad) or scaled (resize); default as for train: pad at 28
                      (the images as they are) and 32, resize otherwise
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)
  --json              print one JSON object as the result
  -h, --help          this help`,
  options: {
    out: { type: 'string', short: 'o' },
    dataset: { type: 'string', short: 'd' },
    classes: { type: 'string' },
    mean: { type: 'string' },
    std: { type: 'string' },
    layout: { type: 'string' },
    fit: { type: 'string' },
    home: { type: 'string' },
  },
  args: IMPORT_ARGS,
  async run(o, positionals) {
    const file = positionals[0];
    if (!file || positionals.length > 1)
      throw new UserError(
        positionals.length > 1 ? `Give one ONNX file (got ${positionals.length}).` : 'No ONNX file given.',
        'decomposer import FILE.onnx --out DIR --dataset NAME',
        'usage',
      );
    if (!o.out)
      throw new UserError(
        'No --out folder given.',
        'Give the model folder to write with --out DIR.',
        'usage',
      );
    const dataset = o.dataset;
    if (!dataset)
      throw new UserError(
        'No --dataset given.',
        'Name the dataset the model was trained on (its classes and test images), e.g. --dataset fashion-mnist.',
        'usage',
      );
    const home = dataHomeOf(o);
    const show = stageProgress();
    const r = await importModel(
      {
        file,
        out: o.out,
        dataset: (size, fit) => parseDatasetOption(dataset, size, 1, home, fit),
        classes: o.classes,
        mean: o.mean,
        std: o.std,
        layout: o.layout,
        fit: o.fit,
      },
      { home, signal: interruptSignal(), onProgress: (p) => show(p.fraction, p.stage) },
    );
    for (const n of r.notes) info(`note: ${n}`);
    if (o.json) printJson(r);
    else {
      const s = r.source;
      print(`imported ${s.file} into ${r.dir}`);
      print(
        `  from: ${s.producer.name} ${s.producer.version}, ${s.opset === null ? 'tfjs-layers' : `ONNX opset ${s.opset}`}, sha256 ${s.sha256.slice(0, 16)}…`,
      );
      print(
        `  input: ${r.inputShape.join('x')} (${s.layout.toUpperCase()} in the file), preprocessing ${r.preprocess}`,
      );
      print(`  layers: ${r.layers}; batch normalisation ${s.batchNorm}`);
      print(
        `  output: ${r.classNames.length} classes of ${r.datasetName}${s.output === 'probabilities' ? '' : ` (the file's ${s.output}, read through a softmax)`}`,
      );
      print(`use it with: decomposer evaluate|predict|decompose --model ${r.dir}`);
    }
    return EXIT.ok;
  },
};
