// decomposer predict: classify your own image files with a trained model or a repaired
// classifier saved by the wizard.
import { COMMON_ARGS, type Command } from '../command.ts';
import { INFERENCE_ARG } from '../options.ts';
import { TOP_K } from '../../core/common/bounds.ts';
import { PATH, v } from '../../core/common/schema.ts';
import path from 'node:path';
import { EXIT, info, interruptSignal, print, printJson, stageProgress, toCsv } from '../output.ts';
import { UserError } from '../../core/common/errors.ts';
import { writeFileAtomic } from '../../core/node/fs/atomic.ts';
import { classifyFiles, IMAGE_EXTENSIONS, openClassifier } from '../../core/node/predict.ts';

export const PREDICT_DEFAULT_TOP = 3;

const PREDICT_ARGS = v.object({
  ...COMMON_ARGS,
  model: v.optional(PATH),
  top: v.optional(TOP_K.text, PREDICT_DEFAULT_TOP),
  csv: v.optional(PATH),
  inference: INFERENCE_ARG,
});

export const predictCommand: Command<v.InferOutput<typeof PREDICT_ARGS>> = {
  name: 'predict',
  summary: 'classify your own images with a model or a repaired classifier',
  usage: `Usage: decomposer predict --model DIR [--top K] [--csv FILE] [--inference E] PATH...

  PATH...             image files, or folders searched recursively for image files
                      (${IMAGE_EXTENSIONS.join(' ')}; other files are ignored).
                      Each image is decoded and resized to the model's input size as for
                      training (scaled so the shorter side fits, centre cropped).
                      Unreadable files are listed and do not stop the others.
  -m, --model DIR     a trained model folder (model.json), or a repaired classifier saved by
                      \`decomposer wizard\` (its removed classes are never predicted)
  -k, --top K         the K most likely classes per image (default ${PREDICT_DEFAULT_TOP})
  --csv FILE          also write file,rank,class,score rows to FILE
  --inference E       auto (default) | onnxruntime | tfjs
  --json              print one JSON object as the result:
                      { model, kind, classes, score_meaning,
                        predictions: [{ file, top: [{ class, index, score }] }],
                        unreadable: [{ file, reason }] }
                      (a model's score is its probability; a repaired classifier's ranks
                      its modules by log-odds: score_meaning says which)
  -h, --help          this help`,
  options: {
    model: { type: 'string', short: 'm' },
    top: { type: 'string', short: 'k' },
    csv: { type: 'string' },
    inference: { type: 'string' },
  },
  args: PREDICT_ARGS,
  async run(o, positionals) {
    const { json, model: dir, top: topK, csv, inference: engine } = o;
    if (!dir)
      throw new UserError(
        'No model given.',
        'Give a model folder or a repaired classifier with --model DIR.',
        'usage',
      );
    if (!positionals.length)
      throw new UserError(
        'No images given.',
        'Name image files or folders after the options, e.g. decomposer predict --model DIR photos/.',
        'usage',
      );
    const signal = interruptSignal();
    const classifier = await openClassifier(dir, { engine });
    try {
      info(
        `${classifier.kind === 'repaired' ? 'repaired classifier' : 'model'} ${classifier.name}: ${classifier.classNames.length} classes, ${classifier.inputSize}x${classifier.inputSize} inputs, ${classifier.inference}`,
      );
      for (const n of classifier.notes) info(`note: ${n}`);
      let result;
      const show = stageProgress();
      try {
        result = await classifyFiles(classifier, positionals, {
          topK,
          signal,
          onProgress: (p) => show(p.fraction, p.stage),
        });
      } catch (e) {
        if (signal.aborted) {
          info('cancelled');
          return EXIT.cancelled;
        }
        throw e;
      }
      const { predictions, unreadable } = result;
      if (!predictions.length)
        throw new UserError(
          `None of the ${unreadable.length} files could be read as an image (${unreadable[0]!.file}: ${unreadable[0]!.reason}).`,
          'Give PNG, JPEG, GIF, WebP or TIFF images.',
          'no-images',
        );
      if (csv) {
        const rows = predictions.flatMap((p) => p.top.map((t, r) => [p.file, r + 1, t.class, t.score]));
        await writeFileAtomic(path.resolve(csv), toCsv(['file', 'rank', 'class', 'score'], rows));
      }
      if (json)
        printJson({
          model: classifier.dir,
          kind: classifier.kind,
          classes: classifier.classNames,
          ...(classifier.removed.length ? { removed: classifier.removed } : {}),
          inference: classifier.inference,
          score_meaning: classifier.scoreMeaning,
          predictions,
          unreadable,
        });
      else {
        const width = Math.min(60, Math.max(4, ...predictions.map((p) => p.file.length)));
        const cls = Math.max(5, ...predictions.map((p) => p.top[0]!.class.length));
        const fmt = (s: number) => s.toFixed(3);
        const rest = predictions[0]!.top.length > 1;
        print(`${'file'.padEnd(width)}  ${'class'.padEnd(cls)}  score${rest ? '  then' : ''}`);
        for (const p of predictions) {
          const [first, ...others] = p.top;
          const name = p.file.length > width ? `…${p.file.slice(-(width - 1))}` : p.file.padEnd(width);
          const then = others.map((t) => `${t.class} ${fmt(t.score)}`).join(', ');
          print(`${name}  ${first!.class.padEnd(cls)}  ${fmt(first!.score)}${then ? `  ${then}` : ''}`);
        }
        print(`scores: ${classifier.scoreMeaning}`);
        if (classifier.removed.length)
          print(
            `never predicted (removed): ${classifier.removed.map((i) => classifier.classNames[i]).join(', ')}`,
          );
        for (const u of unreadable) print(`unreadable: ${u.file}: ${u.reason}`);
        print(
          `${predictions.length} image${predictions.length === 1 ? '' : 's'} classified${unreadable.length ? `, ${unreadable.length} unreadable` : ''}${csv ? `; rows written to ${path.resolve(csv)}` : ''}`,
        );
      }
      return EXIT.ok;
    } finally {
      await classifier.close();
    }
  },
};
