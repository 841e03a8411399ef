// The onnxruntime-node inference engine. Each model is converted once per variant (plain,
// masked, observing at conv or relu points) and its sessions are cached per model (keyed by
// the hash of topology and weights, the preprocessing and the thread count), created on
// first use and released when the last engine holding the model closes. A module's pass over
// many images runs on its masks folded into the weights (graph/fold.ts): a model of its own
// whose graph masks only where the masks vary by position, those masks constants in it; a
// composed evaluation's module passes run in graphs that compute what they share once
// (predictFeaturesMany). Where onnxruntime has blocked (NCHWc) kernels, every pass but the
// observing ones stays in their layout (blocked.ts).
import { createHash } from 'node:crypto';
import type * as Ort from 'onnxruntime-node';
import { foldMasks, type FoldedMasks } from '../graph/fold.ts';
import { nchwcBlockSize } from '../graph/nchwc.ts';
import type { OrtModule } from '../graph/ort.ts';
import { headNode, type ModelPlan } from '../graph/plan.ts';
import { composedGraphs } from './composed.ts';
import { fewChanged } from './layouts.ts';
import { convertToOnnx, activeOutput, maskInput, passFeatures, FEATURES, PIXELS, PROBS } from './convert.ts';
import {
  checkImages,
  featuresInTurn,
  fullMasks,
  type InferenceEngine,
  type InferenceLayout,
  type InferenceReport,
  type FeaturesManyOptions,
  type MaskSet,
  type ObserveOptions,
} from './types.ts';

type Variant = 'plain' | 'masked' | 'conv' | 'relu' | 'features';

/**
 * A folded model is a graph compile of its own, about as long as a pass over a few hundred small
 * images, and each layer it spares a multiplication of every value saves a few percent of a
 * pass (bench --decomposition's module_pass measures both): a pass runs folded once its images
 * times the layers spared reach this; fewer run on the shared masked graph.
 */
export const FOLD_MIN_LAYER_IMAGES = 10000;

/** Whether a pass over `count` images pays for a folded model that spares `spared` layers their masks. */
export const foldPays = (count: number, spared: number): boolean =>
  spared > 0 && count * spared >= FOLD_MIN_LAYER_IMAGES;

/**
 * The maskable layers whose multiplication by a mask a folded pass spares: every one but those
 * whose mask still changes many values in a channel (a mask that changes few is written at
 * them, on onnxruntime's blocked kernels: `block` > 0).
 */
export function sparedLayers(maskable: number, f: FoldedMasks, block: number): number {
  return maskable - [...f.masks.values()].filter((m) => !(block > 0 && fewChanged(m))).length;
}
/** Folded models kept open per engine (a composed evaluation uses each mask set once, in turn). */
const FOLDED_KEPT = 2;

interface CacheEntry {
  refs: number;
  sessions: Map<Variant, Promise<Ort.InferenceSession>>;
}
const cache = new Map<string, CacheEntry>();

/** How many models hold onnxruntime sessions (for tests and diagnostics). */
export function cachedSessionCount(): number {
  let n = 0;
  for (const e of cache.values()) n += e.sessions.size;
  return n;
}

export class OrtInference implements InferenceEngine {
  readonly name = 'onnxruntime' as const;
  readonly report: InferenceReport;
  readonly layout: InferenceLayout;
  private readonly plan: ModelPlan;
  private readonly ort: OrtModule;
  private readonly key: string;
  private readonly entry: CacheEntry;
  private ones = new Map<string, Float32Array>();
  private closed = false;
  /** A folded model's engine: the masks its graph still multiplies by (constants; it takes none). */
  private readonly folded: ReadonlyMap<string, Float32Array> | null;
  /** Folded models of this one, by their masks' digest, most recently used last. */
  private folds = new Map<string, Promise<OrtInference>>();

  private constructor(
    ort: OrtModule,
    plan: ModelPlan,
    layout: InferenceLayout,
    report: InferenceReport,
    folded: ReadonlyMap<string, Float32Array> | null = null,
  ) {
    this.ort = ort;
    this.plan = plan;
    this.layout = layout;
    this.report = report;
    this.folded = folded;
    // A folded plan's hash covers its masks.
    this.key = `${plan.hash}|${JSON.stringify(layout.preprocess)}|${report.threads}|${folded ? 'folded' : ''}`;
    let e = cache.get(this.key);
    if (!e) {
      e = { refs: 0, sessions: new Map() };
      cache.set(this.key, e);
    }
    e.refs++;
    this.entry = e;
  }

  /** Opens the engine and creates its plain session (so a failure shows at once). */
  static async open(
    ort: OrtModule,
    plan: ModelPlan,
    layout: InferenceLayout,
    report: InferenceReport,
    folded: ReadonlyMap<string, Float32Array> | null = null,
  ): Promise<OrtInference> {
    const engine = new OrtInference(ort, plan, layout, report, folded);
    // A folded model runs masked passes only.
    if (folded) return engine;
    try {
      await engine.session('plain');
    } catch (e) {
      await engine.close();
      throw e;
    }
    return engine;
  }

  private create(bytes: Uint8Array): Promise<Ort.InferenceSession> {
    return this.ort.InferenceSession.create(bytes, {
      intraOpNumThreads: this.report.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      // Idle intra-op threads would otherwise spin, burning cores (and energy we measure)
      // that training workers and the power sampler need between runs.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  }

  private session(v: Variant): Promise<Ort.InferenceSession> {
    if (this.closed) return Promise.reject(new Error('inference engine is closed'));
    let s = this.entry.sessions.get(v);
    if (!s) {
      s = nchwcBlockSize(this.ort).then((nchwcBlock) =>
        this.create(
          convertToOnnx(this.plan, {
            input: 'uint8',
            preprocess: this.layout.preprocess,
            masks: v === 'plain' ? false : (this.folded ?? true),
            observe: v === 'conv' || v === 'relu' ? v : null,
            features: v === 'features',
            nchwcBlock,
          }),
        ),
      );
      this.entry.sessions.set(v, s);
      s.catch(() => this.entry.sessions.delete(v));
    }
    return s;
  }

  private maskFeeds(masks: MaskSet | undefined): Record<string, Ort.Tensor> {
    const full = fullMasks(this.layout, masks, this.ones);
    const feeds: Record<string, Ort.Tensor> = {};
    for (const { name, shape } of this.layout.maskable) {
      feeds[maskInput(name)] = new this.ort.Tensor('float32', full.get(name)!, shape);
    }
    return feeds;
  }

  /** Runs `session` over the images in batches and gathers one output, `width` floats per image. */
  private async batched(
    session: Ort.InferenceSession,
    feeds: Record<string, Ort.Tensor>,
    images: Uint8Array,
    count: number,
    output: string,
    width: number,
  ): Promise<Float32Array> {
    return (await this.batchedMany(session, feeds, images, count, [output], width))[0]!;
  }

  /** The same for several outputs of `width` floats per image; `onBatch` after each batch. */
  private async batchedMany(
    session: Ort.InferenceSession,
    feeds: Record<string, Ort.Tensor>,
    images: Uint8Array,
    count: number,
    outputs: string[],
    width: number,
    onBatch?: (done: number) => void,
  ): Promise<Float32Array[]> {
    const per = checkImages(this.layout, images, count);
    const out = outputs.map(() => new Float32Array(count * width));
    const bs = this.report.batchSize;
    for (let a = 0; a < count; a += bs) {
      const b = Math.min(count, a + bs);
      feeds[PIXELS] = new this.ort.Tensor('uint8', images.subarray(a * per, b * per), [
        b - a,
        ...this.layout.inputShape,
      ]);
      const r = await session.run(feeds);
      outputs.forEach((o, j) => out[j]!.set(r[o]!.data as Float32Array, a * width));
      onBatch?.(b);
    }
    return out;
  }

  /**
   * The engine a masked pass over `count` images runs on, and its masks: this one, or the
   * masks folded into a model of their own when that pays (foldPays) or is asked for (`force`);
   * a folded model already open is used at any count.
   */
  private async folding(
    masks: MaskSet | undefined,
    count: number,
    force = false,
  ): Promise<{ engine: OrtInference; masks: MaskSet | undefined }> {
    if (!masks || this.folded) return { engine: this, masks };
    const full = fullMasks(this.layout, masks, this.ones);
    const h = createHash('sha1');
    for (const [name, m] of full) h.update(name).update(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    const key = h.digest('hex');
    let e = this.folds.get(key);
    if (e) this.folds.delete(key);
    else {
      const f = foldMasks(this.plan, full);
      // Nothing to fold (every mask all ones): the shared graph is that model.
      if (f.plan === this.plan) return { engine: this, masks };
      const spared = sparedLayers(this.layout.maskable.length, f, await nchwcBlockSize(this.ort));
      if (!(force || foldPays(count, spared))) return { engine: this, masks };
      e = OrtInference.open(this.ort, f.plan, { ...this.layout, maskable: [] }, this.report, f.masks);
      e.catch(() => this.folds.delete(key));
    }
    this.folds.set(key, e);
    for (const [k, old] of this.folds) {
      if (this.folds.size <= FOLDED_KEPT) break;
      this.folds.delete(k);
      void old.then((x) => x.close()).catch(() => undefined);
    }
    // The folded model's graph holds its masks: it is fed none.
    return { engine: await e, masks: new Map() };
  }

  /** A masked pass on the shared masked graph or on a folded model, whatever the count (the bench's). */
  async predictMaskedOn(
    on: 'shared' | 'folded',
    images: Uint8Array,
    count: number,
    masks: MaskSet,
  ): Promise<Float32Array> {
    checkImages(this.layout, images, count);
    if (on === 'shared') return this.run(images, count, masks, false);
    const f = await this.folding(masks, count, true);
    return f.engine.run(images, count, f.masks ?? new Map(), false);
  }

  private async run(
    images: Uint8Array,
    count: number,
    masks: MaskSet | null,
    fold = true,
  ): Promise<Float32Array> {
    checkImages(this.layout, images, count);
    const f = fold ? await this.folding(masks ?? undefined, count) : { engine: this, masks };
    if (f.engine !== this) return f.engine.run(images, count, f.masks ?? new Map());
    const session = await this.session(masks ? 'masked' : 'plain');
    return this.batched(
      session,
      masks ? this.maskFeeds(masks) : {},
      images,
      count,
      PROBS,
      this.layout.classes,
    );
  }

  predict(images: Uint8Array, count: number): Promise<Float32Array> {
    return this.run(images, count, null);
  }

  async predictFeatures(images: Uint8Array, count: number, masks?: MaskSet): Promise<Float32Array> {
    checkImages(this.layout, images, count);
    const f = await this.folding(masks, count);
    if (f.engine !== this) return f.engine.predictFeatures(images, count, f.masks);
    const session = await this.session('features');
    return this.batched(
      session,
      this.maskFeeds(masks),
      images,
      count,
      FEATURES,
      headNode(this.plan).inShape[0]!,
    );
  }

  /**
   * Each mask set's features (predictFeatures), where there are several and folding pays for
   * each (foldPays), from graphs of up to COMPOSED_PASSES module passes that compute what the
   * passes share once (composed.ts); else one mask set after the other. `share: false`: one
   * after the other regardless (what bench --decomposition compares with).
   */
  async predictFeaturesMany(
    images: Uint8Array,
    count: number,
    maskSets: readonly MaskSet[],
    opts: FeaturesManyOptions = {},
  ): Promise<Float32Array[]> {
    checkImages(this.layout, images, count);
    if (opts.share === false || this.folded || maskSets.length < 2)
      return featuresInTurn(this, images, count, maskSets, opts);
    const block = await nchwcBlockSize(this.ort);
    const folded = maskSets.map((m) => foldMasks(this.plan, fullMasks(this.layout, m, this.ones)));
    if (!folded.every((f) => foldPays(count, sparedLayers(this.layout.maskable.length, f, block))))
      return featuresInTurn(this, images, count, maskSets, opts);
    const out: Float32Array[] = [];
    const graphs = composedGraphs(folded, { preprocess: this.layout.preprocess, nchwcBlock: block });
    let done = 0;
    for (const graph of graphs) {
      opts.signal?.throwIfAborted();
      const session = await this.create(graph.bytes);
      try {
        const outputs = graph.passes.map((_, j) => passFeatures(j));
        const features = await this.batchedMany(
          session,
          {},
          images,
          count,
          outputs,
          headNode(this.plan).inShape[0]!,
          (b) => {
            opts.signal?.throwIfAborted();
            opts.onProgress?.((done + (graph.passes.length * b) / count) / maskSets.length);
          },
        );
        graph.passes.forEach((i, j) => (out[i] = features[j]!));
        done += graph.passes.length;
      } finally {
        await session.release();
      }
    }
    return out;
  }

  predictMasked(images: Uint8Array, count: number, masks: MaskSet): Promise<Float32Array> {
    return this.run(images, count, masks);
  }

  async observe(
    images: Uint8Array,
    count: number,
    opts: ObserveOptions = {},
  ): Promise<Map<string, Uint8Array>> {
    const point = opts.point ?? 'conv';
    const per = checkImages(this.layout, images, count);
    const keys = this.layout.observed[point];
    const out = new Map(
      keys.map(({ name, shape }) => [name, new Uint8Array(shape.reduce((x, y) => x * y, 1))]),
    );
    if (keys.length === 0 || count === 0) return out;
    const session = await this.session(point);
    const feeds = this.maskFeeds(opts.masks);
    const bs = this.report.batchSize;
    for (let a = 0; a < count; a += bs) {
      const b = Math.min(count, a + bs);
      feeds[PIXELS] = new this.ort.Tensor('uint8', images.subarray(a * per, b * per), [
        b - a,
        ...this.layout.inputShape,
      ]);
      const r = await session.run(feeds);
      for (const { name } of keys) {
        const v = r[activeOutput(name)]!.data as Uint8Array;
        const acc = out.get(name)!;
        for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! | v[i]!;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const folds = [...this.folds.values()];
    this.folds.clear();
    await Promise.all(folds.map((f) => f.then((x) => x.close()).catch(() => undefined)));
    if (--this.entry.refs > 0) return;
    if (cache.get(this.key) === this.entry) cache.delete(this.key);
    const sessions = [...this.entry.sessions.values()];
    this.entry.sessions.clear();
    await Promise.all(sessions.map((s) => s.then((x) => x.release()).catch(() => undefined)));
  }
}
