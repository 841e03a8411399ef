// decomposer export-model: a model folder (trained here or imported) as one ONNX file.
import { COMMON_ARGS, type Command } from '../command.ts';
import { EXIT, print, printJson } from '../output.ts';
import { UserError } from '../../core/common/errors.ts';
import { v } from '../../core/common/schema.ts';
import { exportModel } from '../../core/node/workflows/export-model.ts';

const EXPORT_MODEL_ARGS = v.object({ ...COMMON_ARGS });

export const exportModelCommand: Command<v.InferOutput<typeof EXPORT_MODEL_ARGS>> = {
  name: 'export-model',
  summary: 'write a model folder or a repaired classifier as one ONNX file (any ONNX runtime runs it)',
  usage: `Usage: decomposer export-model DIR FILE.onnx

Writes the model in DIR (trained here or imported) as one ONNX file: input "pixels", uint8
[N, H, W, 3] RGB as images are stored (a grey model takes their luma), the model's own
preprocessing inside the graph, output "probs" [N, classes]. Only standard ONNX operators,
so onnxruntime, or any other runtime, runs it; its metadata names the classes, the
preprocessing and where the model came from. Given a repaired classifier the wizard saved,
writes that classifier: every model it uses in one graph, output "scores" [N, classes]
(argmax: the repaired prediction). An existing FILE is never replaced.

  --json              print one JSON object as the result
  -h, --help          this help`,
  options: {},
  args: EXPORT_MODEL_ARGS,
  async run(o, positionals) {
    const [dir, file] = positionals;
    if (!dir || !file || positionals.length > 2)
      throw new UserError(
        positionals.length > 2
          ? `Give one model folder and one file (got ${positionals.length} arguments).`
          : 'Give the model folder and the ONNX file to write.',
        'decomposer export-model DIR FILE.onnx',
        'usage',
      );
    const r = await exportModel(dir, file);
    if (o.json) printJson(r);
    else
      print(
        `wrote ${r.file} (${(r.bytes / 1024).toFixed(0)} KB): pixels uint8 [N, ${r.inputShape.slice(0, 2).join(', ')}, 3] -> probs [N, ${r.classes.length}]`,
      );
    return EXIT.ok;
  },
};
