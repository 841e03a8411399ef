// decomposer bench: the options and the printing; the figures are measured in the core
// (core/node/bench/, one file per figure).
import type { Command } from '../command.ts';
import { DB_ARGS, dbFileOf, listOf } from '../options.ts';
import { BATCH_SIZE, BENCH_SECONDS, DEPTH, IMAGE_SIDE, SAMPLE_PER_CLASS } from '../../core/common/bounds.ts';
import { UserError } from '../../core/common/errors.ts';
import { PATH, v } from '../../core/common/schema.ts';
import { fmtAmount, print, printJson } from '../output.ts';
import { BACKEND_PREFERENCE } from '../../core/node/graph/backend.ts';
import { defaultWorkerCount } from '../../core/node/engine/tfjs/pool.ts';
import { workersHere } from '../../core/node/engine/training.ts';
import { runBench, type BenchFigure } from '../../core/node/bench/index.ts';

const BENCH_ARGS = v.object({
  ...DB_ARGS,
  // No defaults here: --model refuses them given (the ResNet's defaults are applied in run).
  depth: v.optional(DEPTH.text),
  size: v.optional(IMAGE_SIDE.text),
  model: v.optional(PATH),
  batch: v.optional(BATCH_SIZE.text, 64),
  seconds: v.optional(BENCH_SECONDS.text, 5),
  backends: v.optional(listOf(v.picklist(BACKEND_PREFERENCE, `must be ${BACKEND_PREFERENCE.join(', ')}`))),
  workers: v.optional(workersHere().text),
  'no-torch': v.optional(v.boolean(), false),
  memory: v.optional(v.boolean(), false),
  decomposition: v.optional(v.boolean(), false),
  'per-class': v.optional(SAMPLE_PER_CLASS.text, 1000),
});

export const benchCommand: Command<v.InferOutput<typeof BENCH_ARGS>> = {
  name: 'bench',
  summary: 'measure training and inference images/s per engine, beside PyTorch',
  usage: `Usage: decomposer bench [--model DIR] [options]

Prints one JSON line per figure (with --json) or a table: training images/s on the
onnxruntime training engine and on each available tfjs backend (with the worker pool and
without), tfjs inference images/s, onnxruntime-node inference images/s and module
evaluations/s (a new mask set per call), of a ResNet the bench builds (--depth, --size) or
of your own model (--model DIR). When PyTorch is installed (apt-get install -y
python3-torch) each figure alternates short rounds of PyTorch (a child process,
scripts/torch_rounds.py) and of the engine in the same minutes, and reports per-step
images/s of both sides (min, median, max), ratio_of_medians and ratio_of_bests;
ratio_to_torch is the ratio of medians. PyTorch runs twice, with OpenMP's default wait policy
and with OMP_WAIT_POLICY=PASSIVE (a set OMP_WAIT_POLICY picks one), and each figure compares
against the faster (torch_wait_policy). A figure whose single step would take longer than twice its time budget
(extrapolated from steps of 1 and 2 images per worker) is skipped with a line saying so.
The first line describes the machine: CPU, cores and the load average before measuring (what
else was running: quote it with any figure).

  -m, --model DIR     measure this model folder (imported with decomposer import, or trained
                      here) instead of a ResNet, at its own input and classes, on random
                      pixels: every line names it (folder, source file and producer). Its
                      training figures train its architecture as its baselines do (fresh
                      weights; a folder made elsewhere trains its own); the tfjs figures run
                      only tfjs-layers models; PyTorch runs beside it only for a BN-free
                      ResNet trained here (else one line says why, and the figures have no
                      torch fields). A figure the model cannot have (a layer without a
                      training rule, one image over the activation budget) is one line with
                      the reason and what to do; the others run
  --depth N           ResNet depth (default 20; not with --model)
  --size N            input size (default 32; not with --model)
  --batch N           batch size (default 64)
  --seconds X         time budget per figure (default 5)
  --backends LIST     comma-separated engines: onnxruntime, tensorflow, wasm, cpu
                      (default: every one that loads)
  --workers N         pool size (default: one per core)
  --no-torch          skip PyTorch
  --decomposition     also decompose a 10-class ResNet, or the --model on random images of its
                      input and classes (--per-class N concerned + N unconcerned per class,
                      default 1000) and compare with one training epoch, then
                      time composed evaluation of all modules, and export one set as portable
                      ONNX models (sizes; the composed classifier's images/s against the model's)
  --memory            also train ResNet-56 on 64x64 inputs at batch 64 a few steps and report peak memory
  --json              one JSON line per figure
  -h, --help          this help`,
  options: {
    model: { type: 'string', short: 'm' },
    depth: { type: 'string' },
    size: { type: 'string' },
    batch: { type: 'string' },
    seconds: { type: 'string' },
    backends: { type: 'string' },
    workers: { type: 'string' },
    'no-torch': { type: 'boolean', default: false },
    memory: { type: 'boolean', default: false },
    decomposition: { type: 'boolean', default: false },
    'per-class': { type: 'string' },
    home: { type: 'string' },
    db: { type: 'string' },
  },
  args: BENCH_ARGS,
  async run(o) {
    if (o.model !== undefined && (o.depth !== undefined || o.size !== undefined))
      throw new UserError(
        `decomposer bench: --model measures the model in ${o.model} at its own input; --${o.depth !== undefined ? 'depth' : 'size'} describes the ResNet the bench builds instead.`,
        'Give either --model DIR, or --depth and --size.',
        'usage',
      );
    const backends = o.backends ?? [...BACKEND_PREFERENCE];
    // Each figure is a result: one JSON object per line with --json, else key=value pairs.
    const emit = (figure: BenchFigure) =>
      o.json
        ? printJson(figure)
        : print(
            Object.entries(figure)
              .map(([k, x]) => `${k}=${typeof x === 'number' && !Number.isInteger(x) ? fmtAmount(x) : x}`)
              .join('  '),
          );
    await runBench(
      {
        depth: o.depth ?? 20,
        size: o.size ?? 32,
        model: o.model ?? null,
        batch: o.batch,
        seconds: o.seconds,
        workers: o.workers ?? defaultWorkerCount(),
        backends,
        // The memory figure trains on the engine training would choose, or the first of --backends.
        memoryBackend: o.backends ? backends[0]! : null,
        torch: !o['no-torch'],
        decomposition: o.decomposition,
        perClass: o['per-class'],
        memory: o.memory,
        dbFile: dbFileOf(o),
      },
      emit,
    );
    return 0;
  },
};
