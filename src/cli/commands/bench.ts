// decomposer bench: images/s of ResNet inference and training for each available backend,
// with the worker pool and without, side by side with PyTorch when it is installed (ratios
// measured in the same run; the machine is too noisy to compare absolute times across runs).
import type { Command } from '../command.ts';
import { DB_ARGS, dbFileOf, listOf } from '../options.ts';
import { BATCH_SIZE, BENCH_SECONDS, DEPTH, IMAGE_SIDE, SAMPLE_PER_CLASS } from '../../core/common/bounds.ts';
import { v } from '../../core/common/schema.ts';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmtAmount, print, printJson } from '../output.ts';
import type { BackendName } from '../../core/common/api.ts';
import { BACKEND_PREFERENCE, initBackend } from '../../core/node/graph/backend.ts';
import { defaultWorkerCount, TfjsPool } from '../../core/node/engine/tfjs/pool.ts';
import { OnnxTrainEngine } from '../../core/node/engine/onnx-train/engine.ts';
import { OnnxTrainPool } from '../../core/node/engine/onnx-train/pool.ts';
import {
  createTrainingEngine,
  poolShape,
  trainingThreads,
  workersHere,
} from '../../core/node/engine/training.ts';
import type { TrainingEngine } from '../../core/node/engine/training-engine.ts';
import { loadOrt } from '../../core/node/graph/ort.ts';
import { DEFAULT_PREPROCESS, modelToArtifacts } from '../../core/node/models/io.ts';
import { buildResNet } from '../../core/node/models/resnet.ts';
import { Adam } from '../../core/node/train/adam.ts';
import { Rng } from '../../core/node/data/random.ts';
import { benchInference } from '../../core/node/inference/bench.ts';
import { openInference } from '../../core/node/inference/index.ts';
import { planModel } from '../../core/node/graph/plan.ts';
import { generateSynthetic } from '../../core/node/data/index.ts';
import { composedOnnx, moduleOnnx, table1 } from '../../core/node/decompose/index.ts';
import { convertToOnnx } from '../../core/node/inference/convert.ts';
import { Store } from '../../core/node/store/store.ts';
import { existsSync as fileExists } from 'node:fs';

/** What the bench reads of a grid's scenario row: its CO2e ratios, and whether building it was estimated. */
const ScenarioRatios = v.object({
  co2e_ratio_fixed: v.nullable(v.number()),
  co2e_ratio_best: v.nullable(v.number()),
  cost: v.object({ build: v.object({ source: v.string() }) }),
});

/** Mean CO2e ratios of the newest finished grid's rows in the store, if there is one. */
function latestGridRatios(file: string) {
  if (!fileExists(file)) return null;
  const store = Store.open(file);
  try {
    const grid = store.grids.latestFinished(ScenarioRatios);
    if (!grid) return null;
    const rows = grid.scenarios;
    const mean = (xs: (number | null)[]) => {
      const ok = xs.filter((x): x is number => x !== null);
      return ok.length ? Math.round((ok.reduce((a, b) => a + b, 0) / ok.length) * 100) / 100 : null;
    };
    return {
      grid: grid.id,
      kind: grid.kind,
      scenarios: rows.length,
      co2e_ratio_fixed: mean(rows.map((r) => r.co2e_ratio_fixed)),
      co2e_ratio_best: mean(rows.map((r) => r.co2e_ratio_best)),
      estimated: rows.some((r) => r.cost.build.source === 'estimate'),
    };
  } finally {
    store.close();
  }
}

interface Figure {
  figure: 'inference' | 'training';
  engine: 'tfjs' | 'onnxruntime';
  /** onnxruntime's device. */
  device?: 'cpu' | 'gpu';
  /** onnxruntime: intra-op threads per session (worker). */
  threads?: number;
  backend: BackendName;
  pool: boolean;
  workers: number;
  depth: number;
  size: number;
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

/** Times `fn` for about `seconds` (at least `minRuns` runs after one warm-up). */
async function rate(fn: () => Promise<void>, images: number, seconds: number, minRuns = 2): Promise<number> {
  await fn();
  let runs = 0;
  const t0 = performance.now();
  while (runs < minRuns || performance.now() - t0 < seconds * 1000) {
    await fn();
    runs++;
  }
  return (images * runs) / ((performance.now() - t0) / 1000);
}

type StepKind = 'train' | 'infer';

/**
 * PyTorch's side of the bench: a persistent child (scripts/torch_rounds.py) that times a
 * short round of steps on request, so each figure alternates rounds of PyTorch and of our
 * engine in the same minutes (the machine's load changes faster than a figure takes).
 */
class TorchChild {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly rl: Interface;
  private readonly lines: AsyncIterator<string>;
  readonly version: string;
  readonly threads: number;

  private constructor(
    child: ChildProcessWithoutNullStreams,
    rl: Interface,
    lines: AsyncIterator<string>,
    ready: { version: string; threads: number },
  ) {
    this.child = child;
    this.rl = rl;
    this.lines = lines;
    this.version = ready.version;
    this.threads = ready.threads;
  }

  static async start(
    depth: number,
    size: number,
    batch: number,
    threads: number,
    /** OMP_WAIT_POLICY, or null for PyTorch's default (spin briefly, then sleep). */
    waitPolicy: string | null,
  ): Promise<TorchChild | string> {
    const script = path.resolve(import.meta.dirname, '../../../scripts/torch_rounds.py');
    if (!existsSync(script)) return `no PyTorch bench script at ${script}`;
    const python =
      process.env.DECOMPOSER_PYTHON ??
      (existsSync('/usr/bin/python3.11') ? '/usr/bin/python3.11' : 'python3');
    const args = ['--depth', depth, '--size', size, '--batch', batch, '--threads', threads].map(String);
    const env = { ...process.env };
    if (waitPolicy) env.OMP_WAIT_POLICY = waitPolicy;
    else delete env.OMP_WAIT_POLICY;
    const child = spawn(python, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const spawned = new Promise<string | null>((resolve) => {
      child.on('error', (e) => resolve(e.message));
      child.on('spawn', () => resolve(null));
    });
    const failed = await spawned;
    if (failed) return `PyTorch benchmark failed to start: ${failed}`;
    const rl = createInterface({ input: child.stdout });
    const lines = rl[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) {
      await new Promise((r) => (child.exitCode === null ? child.once('close', r) : r(null)));
      const why = stderr.trim().split('\n').pop() ?? '';
      return /No module named 'torch'/.test(why)
        ? 'PyTorch is not installed (apt-get install -y python3-torch)'
        : `PyTorch benchmark failed: ${why}`;
    }
    return new TorchChild(child, rl, lines, JSON.parse(first.value) as { version: string; threads: number });
  }

  /** Seconds per step of one round of about `seconds` (at least one step). */
  async round(kind: StepKind, seconds: number): Promise<number[]> {
    this.child.stdin.write(JSON.stringify({ kind, seconds }) + '\n');
    const line = await this.lines.next();
    if (line.done) throw new Error('the PyTorch benchmark process ended early');
    return (JSON.parse(line.value) as { step_seconds: number[] }).step_seconds;
  }

  close(): void {
    this.rl.close();
    this.child.stdin.end();
    this.child.kill();
  }
}

/**
 * PyTorch in two OpenMP wait policies (or only the one OMP_WAIT_POLICY names): its default
 * (threads spin a while before sleeping) is fastest on a quiet machine, but its threads lose
 * their time slices when anything else runs, where passive ones hold up far better (measured). Each round runs
 * every child for its share of the time, and a figure compares against the faster one.
 */
class TorchRounds {
  private readonly children: Map<string, TorchChild>;
  readonly version: string;
  readonly threads: number;

  private constructor(children: Map<string, TorchChild>) {
    this.children = children;
    const first = [...children.values()][0]!;
    this.version = first.version;
    this.threads = first.threads;
  }

  static async start(
    depth: number,
    size: number,
    batch: number,
    threads: number,
  ): Promise<TorchRounds | string> {
    // Not ACTIVE: libgomp's threads would then spin for good between rounds and take the
    // cores from the engine measured in between.
    const policies = process.env.OMP_WAIT_POLICY ? [process.env.OMP_WAIT_POLICY] : [null, 'PASSIVE'];
    const children = new Map<string, TorchChild>();
    for (const policy of policies) {
      const c = await TorchChild.start(depth, size, batch, threads, policy);
      if (typeof c === 'string') {
        for (const open of children.values()) open.close();
        return c;
      }
      children.set(policy?.toLowerCase() ?? 'default', c);
    }
    return new TorchRounds(children);
  }

  /** Seconds per step of one round per wait policy, `seconds` in all (at least one step each). */
  async round(kind: StepKind, seconds: number): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    for (const [policy, c] of this.children)
      out.set(policy, await c.round(kind, seconds / this.children.size));
    return out;
  }

  close(): void {
    for (const c of this.children.values()) c.close();
  }
}

/** The wait policy whose steps ran fastest (by median) and their spread. */
function fastestTorch(steps: Map<string, number[]>, images: number) {
  let best: { policy: string } & ReturnType<typeof spread> = { policy: '', ...spread([Infinity], images) };
  for (const [policy, s] of steps) {
    const r = spread(s, images);
    if (r.median > best.median) best = { policy, ...r };
  }
  return best;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

function spread(stepSeconds: number[], images: number) {
  const r = stepSeconds.map((s) => images / s).sort((a, b) => a - b);
  const mid = r.length >> 1;
  const median = r.length % 2 ? r[mid]! : (r[mid - 1]! + r[mid]!) / 2;
  return { steps: r.length, min: r[0]!, median, max: r[r.length - 1]! };
}

/**
 * Alternates rounds of PyTorch and of `step` (one batch of `images`) until each side has run
 * about `seconds`, at least three rounds. Our side gets one untimed warm-up step first.
 */
async function interleaved(
  torch: TorchRounds,
  kind: StepKind,
  step: () => Promise<void>,
  images: number,
  seconds: number,
) {
  const rounds = 3 + Math.floor(seconds / 2);
  const per = seconds / rounds;
  const ours: number[] = [];
  const theirs = new Map<string, number[]>();
  await step();
  for (let r = 0; r < rounds; r++) {
    for (const [policy, s] of await torch.round(kind, per))
      theirs.set(policy, [...(theirs.get(policy) ?? []), ...s]);
    const t0 = performance.now();
    do {
      const t = performance.now();
      await step();
      ours.push((performance.now() - t) / 1000);
    } while (performance.now() - t0 < per * 1000);
  }
  const o = spread(ours, images);
  const t = fastestTorch(theirs, images);
  const total = ours.reduce((a, b) => a + b, 0);
  return {
    images_per_second: round1((images * ours.length) / total),
    torch_images_per_second: round1(t.median),
    ratio_to_torch: round3(o.median / t.median),
    rounds,
    steps: o.steps,
    min: round1(o.min),
    median: round1(o.median),
    max: round1(o.max),
    torch_steps: t.steps,
    torch_min: round1(t.min),
    torch_median: round1(t.median),
    torch_max: round1(t.max),
    torch_wait_policy: t.policy,
    ratio_of_medians: round3(o.median / t.median),
    ratio_of_bests: round3(o.max / t.max),
  };
}

const BENCH_ARGS = v.object({
  ...DB_ARGS,
  depth: v.optional(DEPTH.text, 20),
  size: v.optional(IMAGE_SIDE.text, 32),
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
  usage: `Usage: decomposer bench [options]

Prints one JSON line per figure (with --json) or a table: ResNet training images/s on the
onnxruntime training engine and on each available tfjs backend (with the worker pool and
without), tfjs inference images/s, onnxruntime-node inference images/s and module
evaluations/s (a new mask set per call). When PyTorch is installed (apt-get install -y
python3-torch) each figure alternates short rounds of PyTorch (a child process,
scripts/torch_rounds.py) and of the engine in the same minutes, and reports per-step
images/s of both sides (min, median, max), ratio_of_medians and ratio_of_bests;
ratio_to_torch is the ratio of medians. PyTorch runs twice, with OpenMP's default wait policy
and with OMP_WAIT_POLICY=PASSIVE (a set OMP_WAIT_POLICY picks one), and each figure compares
against the faster (torch_wait_policy). A figure whose single step would take longer than twice its time budget
(extrapolated from steps of 1 and 2 images per worker) is skipped with a line saying so.
The first line describes the machine: CPU, cores and the load average before measuring (what
else was running: quote it with any figure).

  --depth N           ResNet depth (default 20)
  --size N            input size (default 32)
  --batch N           batch size (default 64)
  --seconds X         time budget per figure (default 5)
  --backends LIST     comma-separated engines: onnxruntime, tensorflow, wasm, cpu
                      (default: every one that loads)
  --workers N         pool size (default: one per core)
  --no-torch          skip PyTorch
  --decomposition     also decompose a 10-class ResNet (--per-class N concerned + N unconcerned
                      per class, default 1000) and compare with one training epoch, then
                      time composed evaluation of all modules, and export one set as portable
                      ONNX models (sizes; the composed classifier's images/s against the model's)
  --memory            also train ResNet-56 on 64x64 inputs at batch 64 a few steps and report peak memory
  --json              one JSON line per figure
  -h, --help          this help`,
  options: {
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
    const { json, depth, size, batch, seconds } = o;
    const perClass = o['per-class'];
    const workers = o.workers ?? defaultWorkerCount();
    const backends = o.backends ?? [...BACKEND_PREFERENCE];
    // Each figure is a result: one JSON object per line with --json, else key=value pairs.
    const emit = (o: object) =>
      json
        ? printJson(o)
        : print(
            Object.entries(o)
              .map(([k, x]) => `${k}=${typeof x === 'number' && !Number.isInteger(x) ? fmtAmount(x) : x}`)
              .join('  '),
          );

    // Before anything of ours runs: the background every figure below is measured against.
    const round2 = (x: number) => Math.round(x * 100) / 100;
    emit({
      figure: 'machine',
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      load_average: os.loadavg().map(round2),
    });

    // PyTorch runs beside us as a child answering round requests (interleaved per figure).
    let torch: TorchRounds | null = null;
    if (!o['no-torch']) {
      const t = await TorchRounds.start(depth, size, batch, workers);
      if (typeof t === 'string') emit({ figure: 'torch', available: false, reason: t });
      else {
        torch = t;
        // A first look (one short round each); every figure below carries its own PyTorch
        // figures, measured in rounds alternating with it.
        const first = async (kind: StepKind) => round1(fastestTorch(await t.round(kind, 1), batch).median);
        emit({
          figure: 'torch',
          available: true,
          version: t.version,
          threads: t.threads,
          depth,
          size,
          batch,
          inference_images_per_second: await first('infer'),
          training_images_per_second: await first('train'),
          interleaved: true,
        });
      }
    }
    try {
      await initBackend(backends.includes('wasm') ? 'wasm' : null);
      const model = buildResNet({ depth, inputSize: size, classes: 10, seed: 1 });
      const artifacts = await modelToArtifacts(model);
      model.dispose();
      const rng = new Rng(7);
      const per = size * size * 3;
      const images = Uint8Array.from({ length: batch * per }, () => rng.int(256));
      const labels = Int32Array.from({ length: batch }, () => rng.int(10));

      let bestTrainRate = 0;
      // One figure: interleaved with PyTorch when it runs, else timed alone.
      const measure = async (
        figure: 'training' | 'inference',
        base: Omit<Figure, 'figure' | 'images_per_second'>,
        step: () => Promise<void>,
      ): Promise<number> => {
        if (torch) {
          const r = await interleaved(torch, figure === 'training' ? 'train' : 'infer', step, batch, seconds);
          emit({ figure, ...base, ...r });
          return r.images_per_second;
        }
        const ips = round1(await rate(step, batch, seconds));
        emit({ figure, ...base, images_per_second: ips });
        return ips;
      };
      // A figure whose single step would not fit its time budget is skipped (the pure-JS cpu
      // backend takes minutes per step): the step's time is extrapolated linearly from steps
      // of 1 and 2 images per worker (a fixed cost plus a cost per image).
      // Twice the figure's budget (at least 2 s): the extrapolation is rough on a busy machine,
      // and a tiny --seconds must still measure what is fast.
      const stepBudget = Math.max(2 * seconds, 2);
      const skipped = (figure: string, base: object, estimate: number) =>
        emit({
          figure,
          ...base,
          skipped: true,
          reason: `one step of ${batch} images would take about ${Math.round(estimate)} s (extrapolated from 1 and 2 images per worker), over ${stepBudget} s (twice --seconds, at least 2)`,
        });
      // Steps of one and two images per worker: a pool runs its shares side by side, so the
      // cost per image is measured on each worker's share (1 and 2 images on one worker alone
      // would look free on the second).
      const probeSeconds = async (fn: (n: number) => Promise<void>, workers: number) => {
        const p = Math.max(1, Math.min(workers, batch));
        await fn(p); // warm-up
        const time = async (n: number) => {
          const t0 = performance.now();
          await fn(n);
          return (performance.now() - t0) / 1000;
        };
        const t1 = await time(p);
        // A full step costs at least one share's: past the budget already, no second probe.
        if (batch <= p || t1 > stepBudget) return t1;
        const t2 = await time(Math.min(2 * p, batch));
        return Math.max(t2, t1 + (t2 - t1) * (Math.ceil(batch / p) - 1));
      };
      const measureTraining = async (
        engine: TrainingEngine,
        base: Omit<Figure, 'figure' | 'images_per_second'>,
      ) => {
        const layout = engine.layout!;
        const ranges = layout.offsets.map((offset, i) => ({
          offset,
          size: layout.sizes[i]!,
          trainable: layout.trainable[i]!,
        }));
        const adam = new Adam(layout.total);
        const step = async (n: number) => {
          await engine.gradients(images.subarray(0, n * per), labels.subarray(0, n), n, null, per);
          adam.step(engine.weights, engine.grads, ranges);
          engine.weightsChanged();
        };
        const estimate = await probeSeconds(step, engine.size);
        if (estimate > stepBudget) return skipped('training', base, estimate);
        const trn = await measure('training', base, () => step(batch));
        bestTrainRate = Math.max(bestTrainRate, trn);
      };

      // Starts one engine for a figure and closes it after `use`. One that cannot start
      // (or load) gets a 'backend' line saying why, where `say`; false then.
      const withEngine = async <E extends { close(): Promise<void> }>(
        backend: BackendName,
        start: () => Promise<E>,
        say: boolean,
        use: (engine: E) => Promise<void>,
      ): Promise<boolean> => {
        let engine: E;
        try {
          engine = await start();
        } catch (e) {
          if (say)
            emit({
              figure: 'backend',
              backend,
              available: false,
              reason: e instanceof Error ? e.message : String(e),
            });
          return false;
        }
        try {
          await use(engine);
        } finally {
          await engine.close();
        }
        return true;
      };

      for (const backend of backends) {
        if (backend === 'onnxruntime') {
          // The training graphs on onnxruntime-node: one session with every thread, and the
          // worker threads training uses on the CPU (whole steps side by side, poolShape).
          const threads = trainingThreads(workers);
          const shape = poolShape(threads);
          for (const pooled of [false, true]) {
            if (pooled && !shape) break;
            const started = await withEngine(
              backend,
              async () => {
                const engine = pooled
                  ? new OnnxTrainPool(shape!.workers, { threads: shape!.threads })
                  : new OnnxTrainEngine(await loadOrt(), { threads });
                try {
                  await engine.load(artifacts, DEFAULT_PREPROCESS);
                } catch (e) {
                  await engine.close();
                  throw e;
                }
                return engine;
              },
              true,
              (engine) =>
                measureTraining(engine, {
                  engine: 'onnxruntime',
                  device: engine.device?.active ?? 'cpu',
                  backend,
                  pool: pooled,
                  workers: pooled ? shape!.workers : 1,
                  threads: pooled ? shape!.threads : threads,
                  depth,
                  size,
                  batch,
                }),
            );
            if (!started) break;
          }
          continue;
        }
        for (const pooled of [false, true]) {
          const started = await withEngine(
            backend,
            () => TfjsPool.create({ workers: pooled ? workers : 0, backend }),
            !pooled,
            async (pool) => {
              await pool.load(artifacts, DEFAULT_PREPROCESS);
              const base = {
                engine: 'tfjs' as const,
                backend,
                pool: pooled,
                workers: pool.size,
                depth,
                size,
                batch,
              };
              const predict = async (n: number) =>
                void (await pool.predict(images, n, per, 10, Math.ceil(n / pool.size)));
              const estimate = await probeSeconds(predict, pool.size);
              if (estimate > stepBudget) skipped('inference', base, estimate);
              else await measure('inference', base, () => predict(batch));
              await measureTraining(pool, base);
            },
          );
          if (!started) break;
        }
      }

      // The inference engine: onnxruntime-node, and module evaluations (a new mask set each call).
      // Measured after the tfjs pools are gone, so neither steals the other's cores.
      try {
        const r = await benchInference({
          depth,
          inputSize: size,
          batch,
          seconds: Math.max(seconds, 0.5),
          threads: workers,
          timeOnnx: torch ? (step) => interleaved(torch!, 'infer', step, batch, seconds) : undefined,
        });
        const ips = Math.round(r.onnxImagesPerSec * 10) / 10;
        emit({
          figure: 'inference',
          engine: 'onnxruntime',
          threads: r.threads,
          depth,
          size,
          batch,
          images_per_second: ips,
          ...r.onnxFigure,
        });
        emit({
          figure: 'module_evaluations',
          engine: 'onnxruntime',
          threads: r.threads,
          depth,
          size,
          batch,
          evaluations_per_second: Math.round(r.maskedEvalsPerSec * 100) / 100,
          images_per_second: Math.round(r.maskedImagesPerSec * 10) / 10,
        });
      } catch (e) {
        emit({
          figure: 'inference',
          engine: 'onnxruntime',
          available: false,
          reason: e instanceof Error ? e.message : String(e),
        });
      }

      if (o.decomposition) {
        // Decomposing all modules of a 10-class ResNet (per class: N concerned + N unconcerned
        // observations) against one training epoch on the same images, at the training rate
        // measured above in this run; then composed evaluation of all modules on the test set.
        const data = generateSynthetic('shapes', size === 64 ? 64 : 32, {
          trainPerClass: perClass,
          testPerClass: 100,
        });
        const m = buildResNet({ depth, inputSize: data.info.imageSize, classes: 10, seed: 1 });
        const art = await modelToArtifacts(m);
        m.dispose();
        const engine = await openInference(art, { preprocess: DEFAULT_PREPROCESS });
        try {
          const t = await table1(engine, planModel(art), data.train, data.test, { perClass, seed: 1 });
          const seconds = t.observeSeconds + Math.max(...t.sets.map((x) => x.seconds.build));
          const epochSeconds = bestTrainRate > 0 ? data.train.count / bestTrainRate : null;
          emit({
            figure: 'decomposition',
            engine: engine.name,
            depth,
            size: data.info.imageSize,
            classes: 10,
            concerned_per_class: perClass,
            unconcerned_per_class: perClass,
            approaches: t.sets.length,
            seconds: Math.round(seconds * 100) / 100,
            epoch_images: data.train.count,
            epoch_seconds_at_measured_training_rate: epochSeconds && Math.round(epochSeconds * 10) / 10,
            ratio_to_one_epoch: epochSeconds && Math.round((seconds / epochSeconds) * 1000) / 1000,
          });
          emit({
            figure: 'composed_evaluation',
            engine: engine.name,
            depth,
            modules: t.sets.reduce((n, x) => n + x.modules.length, 0),
            test_images: data.test.count,
            module_evaluations_per_second: Math.round(t.moduleEvaluationsPerSecond),
            ratio_to_n_model_evaluations: Math.round(t.composeRatio * 1000) / 1000,
          });
          // The first set as portable ONNX models (decompose --export-onnx): file sizes, and the
          // composed classifier's inference speed against the model's own graph, both on
          // onnxruntime-node over the same test images.
          const plan = planModel(art);
          const set = t.sets[0]!;
          const moduleBytes = set.modules.map((x) => moduleOnnx(plan, DEFAULT_PREPROCESS, x).byteLength);
          const composed = composedOnnx(plan, DEFAULT_PREPROCESS, set);
          const model = convertToOnnx(plan, { input: 'uint8', preprocess: DEFAULT_PREPROCESS });
          const ort = await loadOrt();
          const rate = async (bytes: Uint8Array): Promise<number> => {
            const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
            try {
              const n = data.test.count;
              const s = data.info.imageSize;
              const pixels = new ort.Tensor('uint8', data.test.images.subarray(0, n * s * s * 3), [
                n,
                s,
                s,
                3,
              ]);
              await session.run({ pixels }); // warm-up
              const t0 = performance.now();
              await session.run({ pixels });
              return n / ((performance.now() - t0) / 1000);
            } finally {
              await session.release();
            }
          };
          const modelRate = await rate(model);
          const composedRate = await rate(composed);
          emit({
            figure: 'portable_modules',
            approach: set.approach,
            modules: set.modules.length,
            model_bytes: model.byteLength,
            module_bytes_min: Math.min(...moduleBytes),
            module_bytes_max: Math.max(...moduleBytes),
            composed_bytes: composed.byteLength,
            model_images_per_second: Math.round(modelRate),
            composed_images_per_second: Math.round(composedRate),
            composed_time_over_model: Math.round((modelRate / composedRate) * 100) / 100,
          });
        } finally {
          await engine.close();
        }
      }

      // The CO2e ratio of training from scratch over reuse, as measured by the newest grid in
      // the store (decomposer experiment reuse|replace, or the demo).
      const ratios = latestGridRatios(dbFileOf(o));
      if (ratios) emit({ figure: 'co2e_ratio', ...ratios });

      if (o.memory) {
        const big = buildResNet({ depth: 56, inputSize: 64, classes: 200, seed: 1 });
        const bigArtifacts = await modelToArtifacts(big);
        big.dispose();
        // The engine training would choose (or the first of --backends).
        const pool = createTrainingEngine({ workers, backend: o.backends ? backends[0] : null });
        try {
          const layout = await pool.load(bigArtifacts, DEFAULT_PREPROCESS);
          const bigPer = 64 * 64 * 3;
          const bigImages = Uint8Array.from({ length: 64 * bigPer }, () => rng.int(256));
          const bigLabels = Int32Array.from({ length: 64 }, () => rng.int(200));
          const ranges = layout.offsets.map((offset, i) => ({
            offset,
            size: layout.sizes[i]!,
            trainable: layout.trainable[i]!,
          }));
          const adam = new Adam(layout.total);
          const t0 = performance.now();
          for (let s = 0; s < 3; s++) {
            await pool.gradients(bigImages, bigLabels, 64, null, bigPer);
            adam.step(pool.weights, pool.grads, ranges);
            pool.weightsChanged();
          }
          const ips = (3 * 64) / ((performance.now() - t0) / 1000);
          // maxRSS covers the whole process, worker threads included (kilobytes).
          emit({
            figure: 'memory',
            depth: 56,
            size: 64,
            batch: 64,
            workers: pool.size,
            backend: pool.report?.active,
            peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
            training_images_per_second: Math.round(ips * 10) / 10,
          });
        } finally {
          await pool.close();
        }
      }
    } finally {
      torch?.close();
    }
    return 0;
  },
};
