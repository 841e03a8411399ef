// The comparison with PyTorch: its first look (the `torch` figure), and a figure's steps timed
// in rounds alternating with PyTorch's, per-step images/s of both sides.
import { round1, round3, type BenchSettings, type Emit, type ModelLabel } from './figure.ts';
import { TorchRounds, type StepKind } from './torch-child.ts';

export { TorchRounds, type StepKind };

/** Per-step images/s of steps of `images` each: how many, the slowest, the median, the fastest. */
function spread(stepSeconds: number[], images: number) {
  const r = stepSeconds.map((s) => images / s).sort((a, b) => a - b);
  const mid = r.length >> 1;
  const median = r.length % 2 ? r[mid]! : (r[mid - 1]! + r[mid]!) / 2;
  return { steps: r.length, min: r[0]!, median, max: r[r.length - 1]! };
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

/**
 * PyTorch beside us as children answering round requests, or null where it is not asked for
 * or cannot build the model (`model`: the ResNet it builds, or why not); emits the `torch`
 * figure (a first look, or why it is not available).
 */
export async function startTorch(
  s: BenchSettings,
  model: { depth: number; size: number; classes: number } | string,
  label: ModelLabel,
  emit: Emit,
): Promise<TorchRounds | null> {
  if (!s.torch) return null;
  const { batch } = s;
  const t =
    typeof model === 'string'
      ? model
      : await TorchRounds.start(model.depth, model.size, batch, s.workers, model.classes);
  if (typeof t === 'string') {
    emit({ figure: 'torch', ...(s.model ? label : {}), available: false, reason: t });
    return null;
  }
  // A first look (one short round each); every figure after it carries its own PyTorch
  // figures, measured in rounds alternating with it.
  const first = async (kind: StepKind) => round1(fastestTorch(await t.round(kind, 1), batch).median);
  emit({
    figure: 'torch',
    available: true,
    version: t.version,
    threads: t.threads,
    ...label,
    batch,
    inference_images_per_second: await first('infer'),
    training_images_per_second: await first('train'),
    interleaved: true,
  });
  return t;
}

/**
 * Alternates rounds of PyTorch and of `step` (one batch of `images`) until each side has run
 * about `seconds`, at least three rounds. Our side gets one untimed warm-up step first.
 */
export async function interleaved(
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
