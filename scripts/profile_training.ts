// Where a training step's time goes, per operator, in onnxruntime and (with --torch) in
// PyTorch, for the same ResNet, input size and batch: issue #26's comparison on a CPU where
// PyTorch trains faster. Ours: one training session (the pool's worker, --threads intra-op
// threads) profiled by onnxruntime's own profiler, the steps after --warm dropped; Adam, which
// runs beside the graph over the flat weights, timed apart. PyTorch's: torch.profiler over the
// same number of steps (scripts/torch_rounds.py --profile), self CPU time per operator.
// Both are grouped alike (GROUPS) and printed as one table, ms per step; every operator's own
// line follows. Timings mean something only on a quiet machine: the load average is printed.
//
//   node scripts/profile_training.ts [--depth 20] [--size 32] [--batch 64] [--threads 1]
//                                    [--steps 20] [--warm 3] [--torch] [--out DIR] [--json]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OnnxTrainEngine } from '../src/core/node/engine/onnx-train/engine.ts';
import { loadOrt } from '../src/core/node/graph/ort.ts';
import { DEFAULT_PREPROCESS, modelToArtifacts } from '../src/core/node/models/io.ts';
import { buildResNet } from '../src/core/node/models/resnet.ts';
import { Adam } from '../src/core/node/train/adam.ts';
import { torchPython } from '../src/core/node/bench/torch-child.ts';

const { values: o } = parseArgs({
  options: {
    depth: { type: 'string', default: '20' },
    size: { type: 'string', default: '32' },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string', default: '1' },
    steps: { type: 'string', default: '20' },
    warm: { type: 'string', default: '3' },
    torch: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(os.tmpdir(), 'decomposer-profile') },
    json: { type: 'boolean', default: false },
  },
});
const [depth, size, batch, threads, steps, warm] = [o.depth, o.size, o.batch, o.threads, o.steps, o.warm].map(
  Number,
) as [number, number, number, number, number, number];

/** Operator groups, first match wins: onnxruntime's op types and PyTorch's aten names alike. */
const GROUPS: [string, RegExp][] = [
  ['convolution (forward and backward)', /conv/i],
  ['dense (Gemm, MatMul)', /gemm|matmul|addmm|\bmm\b|linear/i],
  ['pooling', /pool|reducemean|aten::mean/i],
  ['reductions (bias gradients)', /^reduce|aten::sum\b/i],
  ['loss (softmax, cross-entropy)', /softmax|log|nll|cross/i],
  ['optimizer (Adam)', /adam|_foreach|optim/i],
  [
    'layout (reorder, slice, concat, copy)',
    /reorder|transpose|reshape|copy|contiguous|permute|view|expand|slice|concat|\bcat\b|pad|cast|squeeze|gather|shape|stack|select|index|empty|zero|fill/i,
  ],
  [
    'elementwise (ReLU, Add, Mul, Where)',
    /relu|threshold|add|sum|mul|sub|where|div|greater|sqrt|equal|neg|argmax/i,
  ],
];
const groupOf = (op: string) => GROUPS.find(([, re]) => re.test(op))?.[0] ?? 'other';

type PerOp = Map<string, { ms: number; calls: number }>;

/** onnxruntime's profile: kernel time per op type over the runs after the warm-up ones. */
function readOrtProfile(file: string, warmRuns: number, runs: number): PerOp {
  const events = JSON.parse(readFileSync(file, 'utf8')) as {
    cat: string;
    name: string;
    ts: number;
    dur: number;
    args?: { op_name?: string };
  }[];
  const all = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const kept = all.slice(warmRuns);
  const inKept = (ts: number) => kept.some((r) => ts >= r.ts && ts <= r.ts + r.dur);
  const out: PerOp = new Map();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inKept(e.ts)) continue;
    const op = e.args?.op_name ?? e.name;
    // An If's time is its branch's nodes, which the profile lists on their own.
    if (op === 'If') continue;
    const x = out.get(op) ?? { ms: 0, calls: 0 };
    x.ms += e.dur / 1000 / runs;
    x.calls += 1 / runs;
    out.set(op, x);
  }
  return out;
}

async function ours(): Promise<{ ops: PerOp; stepMs: number; adamMs: number }> {
  mkdirSync(o.out!, { recursive: true });
  const prefix = path.join(o.out!, `ort-r${depth}-b${batch}-t${threads}`);
  const model = buildResNet({ depth, inputSize: size, classes: 10, seed: 1 });
  const artifacts = await modelToArtifacts(model);
  model.dispose();
  const ort = await loadOrt();
  const engine = new OnnxTrainEngine(ort, {
    threads,
    session: { enableProfiling: true, profileFilePrefix: prefix },
  });
  const before = new Set(readdirSync(o.out!));
  const layout = await engine.load(artifacts, DEFAULT_PREPROCESS);
  // Adam as EngineAdam runs it, timed apart from the graph.
  const adam = new Adam(layout.total);
  const ranges = layout.offsets.map((offset, i) => ({
    offset,
    size: layout.sizes[i]!,
    trainable: layout.trainable[i]!,
  }));
  const per = size * size * 3;
  const images = Uint8Array.from({ length: batch * per }, (_, i) => (i * 2654435761) >>> 24);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  let graphMs = 0;
  let adamMs = 0;
  for (let s = 0; s < warm + steps; s++) {
    const t0 = performance.now();
    await engine.gradients(images, labels, batch, null);
    const t1 = performance.now();
    adam.step(engine.weights, engine.grads, ranges);
    engine.weightsChanged();
    const t2 = performance.now();
    if (s >= warm) {
      graphMs += t1 - t0;
      adamMs += t2 - t1;
    }
  }
  await engine.close();
  const file = readdirSync(o.out!).find((f) => !before.has(f) && f.endsWith('.json'));
  if (!file) throw new Error(`onnxruntime wrote no profile into ${o.out}`);
  const ops = readOrtProfile(path.join(o.out!, file), warm, steps);
  return { ops, stepMs: graphMs / steps, adamMs: adamMs / steps };
}

function torch(): PerOp | null {
  if (!o.torch) return null;
  const script = path.join(import.meta.dirname, 'torch_rounds.py');
  const args = ['--depth', String(depth), '--size', String(size), '--batch', String(batch)];
  const r = spawnSync(
    torchPython(),
    [script, ...args, '--threads', String(threads), '--profile', String(steps)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`PyTorch's profile failed: ${r.stderr || r.error?.message}`);
  const rows = JSON.parse(r.stdout) as { op: string; ms_per_step: number; calls_per_step: number }[];
  return new Map(rows.map((x) => [x.op, { ms: x.ms_per_step, calls: x.calls_per_step }]));
}

const grouped = (ops: PerOp) => {
  const g = new Map<string, number>();
  for (const [op, x] of ops) g.set(groupOf(op), (g.get(groupOf(op)) ?? 0) + x.ms);
  return g;
};

const load = os.loadavg()[0]!;
const a = await ours();
a.ops.set('Adam (beside the graph, JavaScript)', { ms: a.adamMs, calls: 1 });
const t = torch();
const ga = grouped(a.ops);
const gt = t ? grouped(t) : null;
const names = [...new Set([...ga.keys(), ...(gt?.keys() ?? [])])].sort(
  (x, y) => (ga.get(y) ?? 0) - (ga.get(x) ?? 0),
);
const fmt = (x: number | undefined) => (x === undefined ? '' : x.toFixed(2));
if (o.json) {
  const row = (n: string) => ({ group: n, ours_ms: ga.get(n) ?? 0, torch_ms: gt?.get(n) ?? null });
  console.log(
    JSON.stringify({
      cpu: os.cpus()[0]?.model,
      load,
      depth,
      size,
      batch,
      threads,
      steps,
      groups: names.map(row),
    }),
  );
} else {
  console.log(
    `${os.cpus()[0]?.model}, ${os.cpus().length} cores, load average ${load.toFixed(2)}; ResNet-${depth} ${size}x${size}, batch ${batch}, ${threads} thread(s), ${steps} steps after ${warm}`,
  );
  console.log(`step (graph) ${a.stepMs.toFixed(2)} ms, Adam ${a.adamMs.toFixed(2)} ms (wall, ours)`);
  console.log(
    ['operator group'.padEnd(40), 'ours ms/step'.padStart(13), 'PyTorch ms/step'.padStart(16)].join(''),
  );
  for (const n of names)
    console.log([n.padEnd(40), fmt(ga.get(n)).padStart(13), fmt(gt?.get(n)).padStart(16)].join(''));
  for (const [side, ops] of [
    ['ours', a.ops],
    ['PyTorch', t],
  ] as const) {
    if (!ops) continue;
    console.log(`\n${side}, per operator (ms/step, calls/step):`);
    for (const [op, x] of [...ops].sort((p, q) => q[1].ms - p[1].ms))
      console.log(`  ${op.padEnd(44)} ${x.ms.toFixed(3).padStart(9)} ${x.calls.toFixed(1).padStart(6)}`);
  }
}
