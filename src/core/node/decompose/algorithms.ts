// The paper's algorithms on one model graph (section 3): CI and TI turn observed activity
// into removed positions, MC channels the head into two nodes, MC-BLN and MC-BI backtrack.
//
// Conventions: every per-layer set is a Uint8Array over the layer's output tensor without
// the batch axis, flattened in height-width-channel order ([H, W, C] row-major, or [units]),
// 1 = removed. A removed Conv2D/Dense position is forced to 0 in the module's forward pass
// (the engines' masks multiply the layer's output after the bias, before the activation).
//
// MC-BLN rule (the paper's prose and its Algorithm 2 disagree on the sign test):
// - 'prose' (default): a node serves an output node when its edge to it is >= +δ (every node
//   feeding the head is >= 0 — a ReLU or a pooling of ReLUs — so such an edge raises that
//   output by at least δ per unit of the node's value). Node i of the layer feeding the
//   channeled head is removed when it serves only the unconcerned node:
//   W[i, vuc] >= +δ and W[i, vc] < +δ. Through a hidden Dense layer (weights W[j, i]),
//   node j is removed when it serves at least one removed node and no kept node
//   (some W[j, r] >= +δ with r removed, every W[j, k] < +δ with k kept), or when every node
//   it feeds is removed.
// - 'algorithm2': Algorithm 2 as printed: W[i, vuc] <= -δ and W[i, vc] >= +δ at the head
//   (line 5); through a hidden Dense layer, node j is removed when every edge to a kept
//   node is <= -δ (line 12).
// A removed head input drops both of its edges (to vc and vuc): the module's head keeps the
// other features only.
//
// Backtracking below the head is exact and conservative ("dead" positions): a position of a
// layer's value is removed only when every consumer of that value does not need it:
// - elementwise consumers (ReLU, BatchNormalization, Add, Dropout) need it where their
//   output is not removed; an Add therefore passes removals to both inputs, and a value
//   with several consumers (a ReLU output feeding the next block's convolution and the
//   identity shortcut) is removed only where all of them allow it;
// - Flatten: one to one; GlobalAveragePooling2D: a removed channel removes the whole
//   channel of its input; Average/MaxPooling2D: an input position is removed when every
//   pooling window containing it belongs to a removed output (pool size squared positions
//   when windows do not overlap);
// - Conv2D (MC-BI only; MC-BLN stops at convolutions): an input position (y, x, ·) feeds
//   every output channel of every output position whose sliding window contains it (stride
//   and explicit padding exactly as tfjs computes them); it is removed, in all its
//   channels, when all those outputs are removed (by CI/TI or backtracking);
// - the paper's mapping is built from the sliding windows, so a position that lies in no
//   window at all (cut off by 'valid' padding, or skipped by a stride larger than the
//   kernel) has nothing to be removed through: it stays, unless another consumer of the same
//   value reads it and allows its removal (a 1x1 stride-2 shortcut does not read the odd
//   positions its 3x3 sibling reads). A consumer that does not read a position neither
//   needs it nor lets it go;
// - a hidden Dense layer: the MC-BLN rule above.
// Removed positions that land on a Conv2D/Dense output become part of that layer's mask.
// Without hidden Dense layers, every backtracked position is unused by the module's head,
// so masking it does not change the module's outputs (tested); only MC-BLN's head rule and
// CI/TI change them.
import type { PlanNode } from '../graph/plan.ts';
import type { DecomposeGraph } from './graph.ts';
import { BLN_RULES, type BlnRule } from '../../common/decomposition.ts';

export { BLN_RULES, type BlnRule };
/**
 * MC-BLN's threshold. The prose rule and this δ stay the defaults after measuring both rules
 * over a range of δ on real images (README, "Decomposition"): prose never did worse than
 * Algorithm 2 as printed, no δ made MC-BLN beat MC on every model, and at this δ the head
 * rule removed nothing on the models measured (a smaller δ makes it act).
 */
export const DEFAULT_DELTA = 0.5;

export interface ChanneledHead {
  /** Head weights of the concerned node (class c's column) and the unconcerned node (mean of the others). */
  wc: Float32Array;
  wuc: Float32Array;
  bc: number;
  buc: number;
  /** 1 where the head input is kept (MC-BLN removes some). */
  keep: Uint8Array;
}

/** MC (channeling): the concerned node keeps class c's edges; the unconcerned node gets the means. */
export function channelHead(head: PlanNode, c: number): ChanneledHead {
  const [f, n] = head.kernelShape as [number, number];
  const k = head.kernel!;
  const wc = new Float32Array(f);
  const wuc = new Float32Array(f);
  for (let i = 0; i < f; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) if (j !== c) s += k[i * n + j]!;
    wc[i] = k[i * n + c]!;
    wuc[i] = s / (n - 1);
  }
  const b = head.bias;
  let bs = 0;
  if (b) for (let j = 0; j < n; j++) if (j !== c) bs += b[j]!;
  const bc = b ? b[c]! : 0;
  const buc = b ? Math.fround(bs / (n - 1)) : 0;
  return { wc, wuc, bc, buc, keep: new Uint8Array(f).fill(1) };
}

/** MC-BLN at the head: which inputs of the channeled head serve only the unconcerned node. */
export function headRemovals(h: ChanneledHead, rule: BlnRule, delta: number): Uint8Array {
  const out = new Uint8Array(h.wc.length);
  for (let i = 0; i < out.length; i++) {
    const c = h.wc[i]!;
    const u = h.wuc[i]!;
    out[i] = rule === 'prose' ? +(u >= delta && c < delta) : +(u <= -delta && c >= delta);
  }
  return out;
}

/** The two logits of a channeled head over features [F]: z_c and z_uc. */
export function headLogits(h: ChanneledHead, f: Float32Array, off = 0): [number, number] {
  let zc = h.bc;
  let zu = h.buc;
  for (let i = 0; i < h.wc.length; i++) {
    if (!h.keep[i]) continue;
    const v = f[off + i]!;
    zc += v * h.wc[i]!;
    zu += v * h.wuc[i]!;
  }
  return [zc, zu];
}

/** The concerned probability: softmax over the two-node head, taken at the concerned node. */
export function concernedProbability(zc: number, zu: number): number {
  return 1 / (1 + Math.exp(zu - zc));
}

const any = (a: Uint8Array) => a.some((v) => v !== 0);

/**
 * Backtracking (MC-BLN, and MC-BI with `throughConv`): from the removed head inputs down
 * through the graph. `forced` holds the CI/TI removals per mask layer. Returns the
 * backtracked removals per mask layer (positions not already forced may be added).
 */
export function backtrack(
  g: DecomposeGraph,
  forced: Map<string, Uint8Array>,
  headRemoved: Uint8Array,
  opts: { throughConv: boolean; rule: BlnRule; delta: number },
): Map<string, Uint8Array> {
  const dead = new Map<string, Uint8Array>();
  const gone = (k: PlanNode): Uint8Array | null => {
    const f = forced.get(k.name);
    const d = dead.get(k.name);
    if (!f) return d ?? null;
    if (!d) return f;
    const o = new Uint8Array(f.length);
    for (let i = 0; i < o.length; i++) o[i] = f[i]! | d[i]!;
    return o;
  };
  const deadFor = (k: PlanNode, u: PlanNode): Uint8Array | null => {
    if (k === g.head) return headRemoved;
    switch (k.op) {
      case 'identity':
      case 'act':
      case 'bn':
      case 'add':
      case 'flatten':
        return dead.get(k.name) ?? null;
      case 'gpool': {
        const d = dead.get(k.name);
        if (!d) return null;
        const [h, w, c] = u.shape as [number, number, number];
        const o = new Uint8Array(h * w * c);
        for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) o[p * c + ch] = d[ch]!;
        return o;
      }
      case 'pool': {
        // Even without removed outputs: the positions no window reads are not needed here.
        const d = dead.get(k.name);
        return windowRule(u.shape, k.shape, k.poolSize!, k.strides!, k.pads!, (oy, ox, ch) => {
          return d ? d[(oy * k.shape[1]! + ox) * k.shape[2]! + ch]! !== 0 : false;
        });
      }
      case 'conv': {
        if (!opts.throughConv) return null;
        const gk = gone(k);
        const [oh, ow, co] = k.shape as [number, number, number];
        const all = new Uint8Array(oh * ow);
        if (gk)
          for (let p = 0; p < oh * ow; p++) {
            let a = 1;
            for (let ch = 0; ch < co && a; ch++) a = gk[p * co + ch]!;
            all[p] = a;
          }
        const ks = k.kernelShape!;
        return windowRule(
          u.shape,
          k.shape,
          [ks[0]!, ks[1]!],
          k.strides!,
          k.pads!,
          (oy, ox) => {
            return all[oy * ow + ox] !== 0;
          },
          true,
        );
      }
      case 'dense':
        return denseRule(k, gone(k), opts.rule, opts.delta);
      default:
        return null;
    }
  };
  const nodes = g.plan.nodes;
  const headIdx = nodes.indexOf(g.head);
  for (let i = headIdx - 1; i >= 0; i--) {
    const u = nodes[i]!;
    if (u.op === 'input') continue;
    const cons = g.consumers.get(u.name) ?? [];
    if (cons.length === 0) continue;
    // Per position: NEEDED by some consumer, else DEAD where some consumer reads it and
    // lets it go, else UNREAD (read by none: kept).
    let acc: Uint8Array | null = null;
    for (const k of cons) {
      const d = deadFor(k, u);
      if (!d) {
        acc = null;
        break;
      }
      if (!acc) acc = d.slice();
      else
        for (let p = 0; p < acc.length; p++) {
          const a = acc[p]!;
          const b = d[p]!;
          acc[p] = a === NEEDED || b === NEEDED ? NEEDED : a === DEAD || b === DEAD ? DEAD : UNREAD;
        }
    }
    if (acc) {
      for (let p = 0; p < acc.length; p++) if (acc[p] === UNREAD) acc[p] = NEEDED;
      if (any(acc)) dead.set(u.name, acc);
    }
  }
  const out = new Map<string, Uint8Array>();
  for (const l of g.layers) {
    const d = dead.get(l.name);
    if (d) out.set(l.name, d);
  }
  return out;
}

/** What one consumer says of each input position (backtrack combines them). */
const NEEDED = 0;
const DEAD = 1;
const UNREAD = 2;

/**
 * Per input position of a sliding-window layer: DEAD when it lies in at least one window and
 * every window containing it belongs to an output that `removedAt(oy, ox, channel)` calls
 * removed, UNREAD when it lies in no window (the paper's window mapping does not reach it),
 * NEEDED otherwise. `spatial`: every output depends on every input channel (convolution), so
 * the test ignores the channel and covers all input channels.
 */
function windowRule(
  inShape: number[],
  outShape: number[],
  [kh, kw]: [number, number] | number[],
  [sy, sx]: [number, number],
  [top, left]: [number, number, number, number],
  removedAt: (oy: number, ox: number, ch: number) => boolean,
  spatial = false,
): Uint8Array {
  const [h, w, c] = inShape as [number, number, number];
  const [oh, ow] = outShape as [number, number];
  const o = new Uint8Array(h * w * c);
  const range = (v: number, pad: number, k: number, s: number, n: number): [number, number] => [
    Math.max(0, Math.ceil((v + pad - k! + 1) / s)),
    Math.min(n - 1, Math.floor((v + pad) / s)),
  ];
  for (let y = 0; y < h; y++) {
    const [y0, y1] = range(y, top, kh!, sy, oh!);
    for (let x = 0; x < w; x++) {
      const [x0, x1] = range(x, left, kw!, sx, ow!);
      for (let ch = 0; ch < (spatial ? 1 : c); ch++) {
        let all = true;
        for (let oy = y0; oy <= y1 && all; oy++)
          for (let ox = x0; ox <= x1 && all; ox++) all = removedAt(oy, ox, ch);
        const v = y0 > y1 || x0 > x1 ? UNREAD : all ? DEAD : NEEDED;
        if (v === NEEDED) continue;
        if (spatial) o.fill(v, (y * w + x) * c, (y * w + x + 1) * c);
        else o[(y * w + x) * c + ch] = v;
      }
    }
  }
  return o;
}

/** MC-BLN through a hidden Dense layer k: which of its inputs to remove, given its removed outputs. */
function denseRule(k: PlanNode, removed: Uint8Array | null, rule: BlnRule, delta: number): Uint8Array | null {
  if (!removed || !any(removed)) return null;
  const [fin, fout] = k.kernelShape as [number, number];
  const w = k.kernel!;
  const o = new Uint8Array(fin);
  for (let j = 0; j < fin; j++) {
    let servesRemoved = false;
    let servesKept = false;
    let allKeptNegative = true;
    let kept = 0;
    for (let i = 0; i < fout; i++) {
      const v = w[j * fout + i]!;
      if (removed[i]) {
        if (v >= delta) servesRemoved = true;
      } else {
        kept++;
        if (v >= delta) servesKept = true;
        if (v > -delta) allKeptNegative = false;
      }
    }
    if (kept === 0) o[j] = 1;
    else o[j] = rule === 'prose' ? +(servesRemoved && !servesKept) : +allKeptNegative;
  }
  return o;
}
