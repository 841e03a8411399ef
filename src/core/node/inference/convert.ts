// The inference graphs of a model plan, ONNX opset 17: each layer emitted by its forward rule
// (graph/layers/, the rules the training graphs are built from too), with what inference adds
// around them: preprocessing, masks, activity outputs and portable modules. The passes
// onnxruntime runs here with its blocked kernels (`nchwcBlock`) are emitted by blocked.ts, in
// that layout from the first convolution to the pooling, several passes in one graph where a
// composed evaluation asks (convertPasses).
//
// Conventions (shared with the tfjs engine, see index.ts):
// - Input "pixels": uint8 [N, H, W, P] (NHWC, as images are stored: P = 3, RGB, for a 1- or
//   3-channel model, else the model's channels); the graph does the preprocessing itself, as
//   graph/inputs.ts's toInputs does (a grey model's rounded luma, then pixel * scale[c] +
//   shift[c]). With `input: 'float'` the input is "inputs", float [N, H, W, C] (the model's
//   channels), already preprocessed.
// - Values are NHWC, as the plan lays them out: masks and activity come in and go out in the
//   plan's layout ([H, W, C] or [units]) without transposes. Only standard ONNX operators are
//   used (no runtime's own kernels), so any ONNX runtime runs the graphs.
// - Masks (`masks: true`): one float input "mask/<layer>" per Conv2D and Dense layer, shaped
//   like the layer's output without the batch axis. It multiplies the value at the layer's
//   mask point (plan.maskAt: its output after the bias and before its activation, or the
//   output of the BatchNormalization that is its one reader). All ones is the plain model.
// - Observation (`observe: 'conv' | 'relu'`): outputs "active/<key>", uint8 shaped like the
//   observed value without the batch axis, 1 where the value was > 0 for any image of the
//   batch. 'conv': the (masked) value at the mask point of every Conv2D and of every Dense
//   with a Conv2D/Dense downstream, key = that layer. 'relu': the input of every ReLU, key =
//   the ReLU layer, or the Conv2D/Dense whose fused activation is a ReLU. The observing graph
//   outputs only these (no probabilities).
// - Portable modules (`modules`): each module's masks baked in as constants (a layer whose
//   mask removes nothing gets no Mul) and its two-node head in place of the output layer:
//   Gemm over the head's input with [w_c, w_uc] (removed head inputs zeroed), Softmax, and
//   the concerned column. One module: output "probability" [N]; several (a composed
//   classifier): one backbone pass per module sharing the weights, output "probabilities"
//   [N, modules]. No mask inputs, one uint8 input: any ONNX runtime can run it. A graph
//   that ranks modules (a repaired classifier) takes each module's log-odds instead
//   (`logOdds`: the Gemm's concerned minus unconcerned column).
//   A single module's file is made smaller: a Conv2D output channel removed at every
//   position whose value only reaches other convolutions (through ReLUs) is dropped from
//   that layer's kernel and bias and from its readers' kernels (it is 0 there, so nothing
//   changes). A composed classifier keeps every channel so its module passes share weights.
import type { Preprocess } from '../models/io.ts';
import { GraphBuilder } from '../graph/builder.ts';
import { channelScales, LUMA, pixelChannels } from '../graph/inputs.ts';
import { activate, forwardFor, type ForwardContext, type WeightKind } from '../graph/layers/index.ts';
import { DataType, int, ints } from '../graph/onnx-proto.ts';
import { headNode, type ModelPlan, type PlanNode } from '../graph/plan.ts';
import { emitPasses } from './blocked.ts';
import { droppableChannels, slicedLayer, type PortableModule } from './channels.ts';
import { maskInput, WEIGHT_FIELDS, type ModelPass, type PassMask } from './passes.ts';

export interface ConvertOptions {
  input?: 'uint8' | 'float';
  /** Required for uint8 input. */
  preprocess?: Preprocess;
  /**
   * Mask inputs for every Conv2D/Dense layer, or for these only (the others unmasked:
   * graph/fold.ts), or these masks as constants (a folded module's, [H, W, C] or [units]).
   */
  masks?: boolean | ReadonlySet<string> | ReadonlyMap<string, Float32Array>;
  observe?: 'conv' | 'relu' | null;
  /**
   * Output "features" (float [N, F]) instead of the probabilities: the value that feeds the
   * output Dense layer (the head), e.g. the global pooling's output. Decomposition's
   * two-node heads are computed from it.
   */
  features?: boolean;
  /** Portable modules: masks and two-node heads baked in (see above). */
  modules?: PortableModule[];
  /**
   * Each module pass ends in its log-odds (EmittedPlan.logOdds) instead of its probability, for
   * graphs that rank modules (a confident model's probabilities tie at 1); 'both' gives both.
   */
  logOdds?: boolean | 'both';
  /** The file's metadata_props (an exported model's classes and preprocessing). */
  metadata?: Record<string, string>;
  /**
   * onnxruntime's NCHWc block size for its blocked convolution kernels, where the graph runs in
   * onnxruntime here: a pass's values stay in the blocked layout (blocked.ts); 0 (default):
   * standard operators only, for any runtime.
   */
  nchwcBlock?: number;
}

export type { PortableModule };

export const PIXELS = 'pixels';
export const INPUTS = 'inputs';
export const PROBS = 'probs';
export const FEATURES = 'features';
export const PROBABILITY = 'probability';
export const PROBABILITIES = 'probabilities';
/** A composed classifier's ranking: each module's log-odds (argmax: the composed prediction). */
export const LOG_ODDS = 'log_odds';
export { maskInput };
export const activeOutput = (layer: string) => `active/${layer}`;

/**
 * The preprocessed NHWC input (graph/inputs.ts's rule, in the graph). `declared`: the uint8
 * input is already there (another plan of the same graph declared it).
 */
export function preprocessed(
  g: GraphBuilder,
  plan: ModelPlan,
  opts: ConvertOptions,
  declared = false,
): string {
  const [h, w, c] = plan.input.shape as [number, number, number];
  if ((opts.input ?? 'uint8') === 'float') return g.input(INPUTS, ['N', h, w, c]);
  if (!declared) g.input(PIXELS, ['N', h, w, pixelChannels(c)], DataType.UINT8);
  const { scale, shift, uniform } = channelScales(opts.preprocess ?? { mean: 0, std: 1 }, c);
  let f = g.op('Cast', [PIXELS], [int('to', DataType.FLOAT)]);
  // A grey model sees the pixels' rounded luma.
  if (c === 1) f = g.op('Round', [g.op('MatMul', [f, g.floats([3, 1], Float32Array.from(LUMA))])]);
  const perChannel = (v: number[]) => (uniform || c === 1 ? g.scalar(v[0]!) : g.floats([c], v));
  return g.op('Add', [g.op('Mul', [f, perChannel(scale)]), perChannel(shift)]);
}

/** The observing graph's output for one key: 1 where the value was > 0 for any image. */
function observeValue(g: GraphBuilder, key: string, x: string, shape: number[]): void {
  const m = g.op('ReduceMax', [x], [ints('axes', [0]), int('keepdims', 0)]);
  const active = g.op('Cast', [g.op('Greater', [m, g.scalar(0)])], [int('to', DataType.UINT8)]);
  g.output(activeOutput(key), active, shape, DataType.UINT8);
}

/**
 * A module's two-node head over the head's input: its concerned probability, [N, 1], or with
 * `logOdds` its log-odds (concerned minus unconcerned logit), what composed votes are ranked by.
 */
function moduleHead(
  g: GraphBuilder,
  m: PortableModule,
  features: string,
  logOdds: boolean | 'both',
): { probability: string | null; logOdds: string | null } {
  const f = m.head.wc.length;
  const w = new Float32Array(f * 2);
  for (let i = 0; i < f; i++) {
    if (!m.head.keep[i]) continue;
    w[2 * i] = m.head.wc[i]!;
    w[2 * i + 1] = m.head.wuc[i]!;
  }
  const z = g.op('Gemm', [features, g.floats([f, 2], w), g.floats([2], [m.head.bc, m.head.buc])]);
  const odds = logOdds
    ? g.op('Sub', [
        g.op('Slice', [z, g.int64([0]), g.int64([1]), g.int64([1])]),
        g.op('Slice', [z, g.int64([1]), g.int64([2]), g.int64([1])]),
      ])
    : null;
  if (logOdds === true) return { probability: null, logOdds: odds };
  const p = g.op('Softmax', [z], [int('axis', 1)]);
  return { probability: g.op('Slice', [p, g.int64([0]), g.int64([1]), g.int64([1])]), logOdds: odds };
}

/** The masks of a pass as convertToOnnx's `masks` gives them. */
function passMasks(plan: ModelPlan, masks: ConvertOptions['masks']): Map<string, PassMask> {
  if (masks instanceof Map) return new Map(masks);
  const out = new Map<string, PassMask>();
  for (const { name } of plan.maskable)
    if (masks === true || (masks instanceof Set && masks.has(name))) out.set(name, 'input');
  return out;
}

export function convertToOnnx(plan: ModelPlan, opts: ConvertOptions = {}): Uint8Array {
  const g = new GraphBuilder();
  g.nchwcBlock = opts.nchwcBlock ?? 0;
  if (g.nchwcBlock && !opts.observe && !opts.modules?.length) {
    // A pass of onnxruntime's own: blocked from the first convolution to the pooling.
    const wanted = opts.features ? headNode(plan).inputs[0]! : plan.output;
    const pass = { plan, masks: passMasks(plan, opts.masks) };
    const [[y]] = emitPasses(g, [pass], preprocessed(g, plan, opts), [wanted], g.nchwcBlock).values as [
      [string],
    ];
    if (opts.features) g.output(FEATURES, y, ['N', headNode(plan).inShape[0]!]);
    else g.output(PROBS, y, ['N', plan.classes]);
    return g.encode('model', opts.metadata);
  }
  const e = emitPlan(g, plan, opts, preprocessed(g, plan, opts));
  if (!opts.modules?.length && !opts.observe) {
    if (opts.features) g.output(FEATURES, e.features, ['N', headNode(plan).inShape[0]!]);
    else g.output(PROBS, e.probs, ['N', plan.classes]);
  }
  if (e.modules.length > 1) {
    g.output(PROBABILITIES, g.op('Concat', e.modules, [int('axis', 1)]), ['N', e.modules.length]);
    if (e.logOdds.length)
      g.output(LOG_ODDS, g.op('Concat', e.logOdds, [int('axis', 1)]), ['N', e.logOdds.length]);
  } else if (e.modules.length === 1)
    g.output(PROBABILITY, g.op('Reshape', [e.modules[0]!, g.int64([-1])]), ['N']);
  return g.encode('model', opts.metadata);
}

/**
 * What one plan's passes computed: the probabilities and (with `features`) the head's input of
 * the plain pass, and each module's probability [N, 1] (with `logOdds`: its log-odds instead).
 */
export interface EmittedPlan {
  probs: string;
  features: string;
  modules: string[];
  logOdds: string[];
}

/**
 * Adds `plan`'s passes over the preprocessed `input` to `g` (see above): one plain pass, or
 * one per module of `opts.modules`. `prefix` keeps the weights of several plans in one graph
 * apart (a repaired classifier's models).
 */
export function emitPlan(
  g: GraphBuilder,
  plan: ModelPlan,
  opts: ConvertOptions,
  input: string,
  prefix = '',
): EmittedPlan {
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const consumers = new Map<string, PlanNode[]>();
  for (const n of plan.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  // The layer whose mask applies at a node's output (itself, or the Conv2D before a batch norm).
  const maskOf = new Map(Object.entries(plan.maskAt).map(([layer, at]) => [at, layer]));
  const observeConv = new Set(opts.observe === 'conv' ? plan.observed.conv.map((o) => o.name) : []);
  const observeRelu = new Set(opts.observe === 'relu' ? plan.observed.relu.map((o) => o.name) : []);
  // The weights once, shared by every module pass.
  const weights = new Map<string, string>();
  const weightOf = (n: PlanNode, kind: WeightKind, data?: Float32Array | null): string | null => {
    const value = data === undefined ? (n[WEIGHT_FIELDS[kind]] as Float32Array | null | undefined) : data;
    if (!value) return null;
    const key = `${n.name}/${kind}`;
    // Named after the layer (w/<layer>/<kind>), in the plan's layout, as a viewer shows them.
    if (!weights.has(key))
      weights.set(
        key,
        g.constant(
          kind === 'kernel' ? n.kernelShape! : [value.length],
          value,
          DataType.FLOAT,
          `w/${prefix}${key}`,
        ),
      );
    return weights.get(key)!;
  };

  const head = opts.modules?.length ? headNode(plan) : null;
  const passes: (PortableModule | null)[] = opts.modules?.length ? opts.modules : [null];
  const single =
    opts.modules?.length === 1 ? droppableChannels(plan, opts.modules[0]!) : new Map<string, number[]>();
  const moduleOutputs: ReturnType<typeof moduleHead>[] = [];
  let plainValues = new Map<string, string>();
  for (const module of passes) {
    const values = new Map<string, string>();
    const carried = new Map<string, number[]>(); // a single module's values with fewer channels
    const deferred = new Map<string, string>(); // a ReLU layer -> the mask to apply after it
    /** The mask of `layer` (a value to multiply), or null where it removes nothing. */
    const maskValue = (layer: string, shape: number[]): string | null => {
      if (!module) {
        if (opts.masks instanceof Map) {
          const m = opts.masks.get(layer);
          return m ? g.constant(shape, m) : null;
        }
        if (!opts.masks || (typeof opts.masks === 'object' && !opts.masks.has(layer))) return null;
        return g.input(maskInput(layer), shape);
      }
      const removed = module.removed.get(layer);
      if (!removed || !removed.includes(1)) return null;
      const chans = single.get(layer);
      const c = shape[shape.length - 1]!;
      const keep = chans
        ? Uint8Array.from({ length: (removed.length / c) * chans.length }, (_, i) => {
            const p = Math.floor(i / chans.length);
            return 1 - removed[p * c + chans[i % chans.length]!]!;
          })
        : Uint8Array.from(removed, (r) => 1 - r);
      const dims = chans ? [...shape.slice(0, -1), chans.length] : shape;
      return g.op('Cast', [g.constant(dims, keep, DataType.UINT8)], [int('to', DataType.FLOAT)]);
    };
    for (const plain of plan.nodes) {
      if (plain === head) break; // a module's own head follows the loop
      if (plain.op === 'input') {
        values.set(plain.name, input);
        continue;
      }
      const n = slicedLayer(plain, single, carried);
      const layer = maskOf.get(n.name); // the mask applying at this node's output
      const m = layer !== undefined ? maskValue(layer, byName.get(layer)!.shape) : null;
      const own = layer === n.name; // a Conv2D/Dense whose mask applies before its activation
      const observedHere = (layer !== undefined && observeConv.has(layer)) || observeRelu.has(n.name);
      // The mask may follow the ReLU that reads this value (relu(z * m) = relu(z) * m, m >= 0):
      // its own fused one, or a ReLU layer that is its one reader.
      const next = consumers.get(n.name) ?? [];
      const reluAfter =
        next.length === 1 && next[0]!.op === 'act' && next[0]!.act === 'relu' ? next[0]! : null;
      const deferOwn = m !== null && own && !opts.observe && n.act === 'relu' && n.name !== plan.output;
      const deferNext = m !== null && !opts.observe && (!own || n.act === 'linear') && reluAfter !== null;
      // Conv2D/Dense: the activation waits where the mask or the observation needs its input.
      const split = own && n.act !== 'linear' && !deferOwn && (m !== null || observedHere);
      const ctx: ForwardContext = {
        g,
        node: split ? { ...n, act: 'linear' } : n,
        inputs: n.inputs.map((i) => values.get(i)!),
        mode: 'eval',
        weight: (kind) =>
          weightOf(n, kind, n === plain ? undefined : (n[WEIGHT_FIELDS[kind]] as Float32Array)),
        setUpdate: () => undefined,
      };
      if (observeRelu.has(n.name) && n.op === 'act') observeValue(g, n.name, ctx.inputs[0]!, n.inShape);
      g.tag = `${n.name}`;
      let y = forwardFor(n.className).forward(ctx).output;
      if (m !== null && !deferOwn && !deferNext) y = g.op('Mul', [y, m]);
      if (layer !== undefined && observeConv.has(layer)) observeValue(g, layer, y, n.shape);
      if (own && observeRelu.has(n.name) && n.op !== 'act') observeValue(g, n.name, y, n.shape);
      if (split) y = activate(g, y, n.act);
      if (deferOwn) y = g.op('Mul', [y, m!]);
      if (deferNext) deferred.set(reluAfter!.name, m!);
      const after = deferred.get(n.name);
      if (after) y = g.op('Mul', [y, after]);
      values.set(n.name, y);
    }
    if (head && module)
      moduleOutputs.push(moduleHead(g, module, values.get(head.inputs[0]!)!, opts.logOdds ?? false));
    if (!module) plainValues = values;
  }
  return {
    probs: plainValues.get(plan.output) ?? '',
    // Only where asked: a model whose output is no Dense layer has no head.
    features: opts.features ? (plainValues.get(headNode(plan).inputs[0]!) ?? '') : '',
    modules: moduleOutputs.flatMap((o) => (o.probability ? [o.probability] : [])),
    logOdds: moduleOutputs.flatMap((o) => (o.logOdds ? [o.logOdds] : [])),
  };
}

/** The output of pass `j` in convertPasses' graph. */
export const passFeatures = (j: number) => `${FEATURES}/${j}`;

/**
 * Several passes over one model (a composed evaluation's modules, each its folded plan and its
 * position-varying masks as constants) in one graph: every value their prefixes share computed
 * once (passes.ts). Outputs each pass's features (passFeatures). `shared`: the share of node
 * passes that reuse another pass's value.
 */
export function convertPasses(
  passes: readonly ModelPass[],
  opts: Pick<ConvertOptions, 'preprocess' | 'nchwcBlock'>,
): { bytes: Uint8Array; shared: number } {
  const plan = passes[0]!.plan;
  const g = new GraphBuilder();
  g.nchwcBlock = opts.nchwcBlock ?? 0;
  const input = preprocessed(g, plan, { input: 'uint8', preprocess: opts.preprocess });
  const head = headNode(plan);
  const { values, keys } = emitPasses(g, passes, input, [head.inputs[0]!], g.nchwcBlock);
  values.forEach(([v], j) => g.output(passFeatures(j), v!, ['N', head.inShape[0]!]));
  return { bytes: g.encode('model'), shared: keys.shared() };
}
