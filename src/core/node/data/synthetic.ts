// The embedded synthetic datasets: generated from a seed, no download, 32x32 or 64x64 RGB.
//
// 'shapes'   - one large foreground shape per image (10 classes) at a random position, scale,
//              aspect and rotation, in a random colour, over a random gradient background
//              with clutter (line segments, blobs, sometimes a small distractor shape of
//              another class), sometimes partly occluded, plus per-pixel Gaussian noise.
//              Two classes are deliberately similar: a 5-point and a 6-point star
//              (`confusablePair('shapes')`).
// 'textures' - a full-image periodic or stochastic texture (10 classes) with random period,
//              orientation, phase, colour pair and contrast, plus clutter and noise. Waves and
//              zigzags are the similar pair (`confusablePair('textures')`).
//
// Everything is rasterised by hand into Float32 scratch buffers (2x2 supersampling for
// anti-aliasing) and quantised into the NHWC Uint8Array. Each image has its own generator
// derived from (seed, split, index), so the bytes depend only on the seed and the counts.

import type { DatasetInfo, ImageSet, LoadedDataset, Progress, SyntheticName } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { Rng } from './random.ts';
import { imageSetBuffer } from './image-set.ts';

export const SYNTHETIC_NAMES: readonly SyntheticName[] = ['shapes', 'textures'];

export const SHAPE_CLASSES = [
  'circle',
  'ring',
  'square',
  'hollow-square',
  'triangle',
  'plus',
  'star-5',
  'star-6',
  'half-disc',
  'crescent',
] as const;

export const TEXTURE_CLASSES = [
  'stripes',
  'checkerboard',
  'dot-grid',
  'concentric-rings',
  'crosshatch',
  'waves',
  'zigzag',
  'speckle',
  'bricks',
  'rays',
] as const;

export const SYNTHETIC_DEFAULTS = { seed: 1, trainPerClass: 500, testPerClass: 100 } as const;

export function syntheticClassNames(name: SyntheticName): string[] {
  return name === 'shapes' ? [...SHAPE_CLASSES] : [...TEXTURE_CLASSES];
}

/** The two class indices of a dataset that are deliberately hard to tell apart. */
export function confusablePair(name: SyntheticName): [number, number] {
  if (name === 'shapes') return [SHAPE_CLASSES.indexOf('star-5'), SHAPE_CLASSES.indexOf('star-6')];
  return [TEXTURE_CLASSES.indexOf('waves'), TEXTURE_CLASSES.indexOf('zigzag')];
}

// ---------------------------------------------------------------------------------------
// Colours

type RGB = [number, number, number];

function hsv(h: number, s: number, v: number): RGB {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  switch (((i % 6) + 6) % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

function lum(c: RGB): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

function randomColour(rng: Rng): RGB {
  return hsv(rng.next(), rng.range(0.1, 1), rng.range(0.15, 1));
}

/** A colour whose luminance differs from `other` by at least `minDiff`. */
function contrastingColour(rng: Rng, other: RGB, minDiff: number): RGB {
  let best = randomColour(rng);
  for (let k = 0; k < 12 && Math.abs(lum(best) - lum(other)) < minDiff; k++) {
    const c = randomColour(rng);
    if (Math.abs(lum(c) - lum(other)) > Math.abs(lum(best) - lum(other))) best = c;
  }
  return best;
}

// ---------------------------------------------------------------------------------------
// Canvas: a float RGB buffer in [0, 1], HWC.

interface Canvas {
  size: number;
  px: Float32Array;
}

const SUB = [0.25, 0.75];

function fillGradient(cv: Canvas, rng: Rng): RGB {
  const a = randomColour(rng);
  const b: RGB = [
    clamp01(a[0] + rng.normal() * 0.15),
    clamp01(a[1] + rng.normal() * 0.15),
    clamp01(a[2] + rng.normal() * 0.15),
  ];
  const ang = rng.next() * 2 * Math.PI;
  const dx = Math.cos(ang) / cv.size;
  const dy = Math.sin(ang) / cv.size;
  const { px, size } = cv;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = clamp01(0.5 + (x - size / 2) * dx + (y - size / 2) * dy);
      const o = (y * size + x) * 3;
      px[o] = a[0] + (b[0] - a[0]) * t;
      px[o + 1] = a[1] + (b[1] - a[1]) * t;
      px[o + 2] = a[2] + (b[2] - a[2]) * t;
    }
  }
  return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2];
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Blends `colour` into the canvas wherever `inside(x, y)` holds (2x2 supersampled), in a box. */
function paint(
  cv: Canvas,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  colour: RGB,
  alpha: number,
  inside: (x: number, y: number) => boolean,
): void {
  const { px, size } = cv;
  const xa = Math.max(0, Math.floor(x0));
  const ya = Math.max(0, Math.floor(y0));
  const xb = Math.min(size - 1, Math.ceil(x1));
  const yb = Math.min(size - 1, Math.ceil(y1));
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      let cover = 0;
      for (let sy = 0; sy < 2; sy++)
        for (let sx = 0; sx < 2; sx++) if (inside(x + SUB[sx], y + SUB[sy])) cover++;
      if (cover === 0) continue;
      const w = (cover / 4) * alpha;
      const o = (y * size + x) * 3;
      px[o] += (colour[0] - px[o]) * w;
      px[o + 1] += (colour[1] - px[o + 1]) * w;
      px[o + 2] += (colour[2] - px[o + 2]) * w;
    }
  }
}

function drawSegment(cv: Canvas, rng: Rng, colour: RGB, alpha: number): void {
  const s = cv.size;
  const ax = rng.range(-0.1, 1.1) * s;
  const ay = rng.range(-0.1, 1.1) * s;
  const len = rng.range(0.15, 0.6) * s;
  const ang = rng.next() * 2 * Math.PI;
  const bx = ax + Math.cos(ang) * len;
  const by = ay + Math.sin(ang) * len;
  const hw = rng.range(0.4, 1.1) * (s / 32);
  const vx = bx - ax;
  const vy = by - ay;
  const l2 = vx * vx + vy * vy || 1;
  paint(
    cv,
    Math.min(ax, bx) - hw,
    Math.min(ay, by) - hw,
    Math.max(ax, bx) + hw,
    Math.max(ay, by) + hw,
    colour,
    alpha,
    (x, y) => {
      let t = ((x - ax) * vx + (y - ay) * vy) / l2;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const dx = x - (ax + t * vx);
      const dy = y - (ay + t * vy);
      return dx * dx + dy * dy <= hw * hw;
    },
  );
}

function drawBlob(cv: Canvas, rng: Rng, colour: RGB, alpha: number): void {
  const s = cv.size;
  const cx = rng.next() * s;
  const cy = rng.next() * s;
  const rx = rng.range(0.8, 3) * (s / 32);
  const ry = rx * rng.range(0.5, 1.5);
  paint(cv, cx - rx, cy - ry, cx + rx, cy + ry, colour, alpha, (x, y) => {
    const dx = (x - cx) / rx;
    const dy = (y - cy) / ry;
    return dx * dx + dy * dy <= 1;
  });
}

function clutter(cv: Canvas, rng: Rng, count: number): void {
  for (let i = 0; i < count; i++) {
    const c = randomColour(rng);
    const alpha = rng.range(0.35, 0.9);
    if (rng.next() < 0.55) drawSegment(cv, rng, c, alpha);
    else drawBlob(cv, rng, c, alpha);
  }
}

// Gaussian noise from a fixed table of standard normals indexed by the image's generator:
// far cheaper than Box-Muller per pixel, and just as deterministic.
const NORMALS = (() => {
  const r = new Rng(0x5eed);
  const t = new Float32Array(65536);
  for (let i = 0; i < t.length; i++) t[i] = r.normal();
  return t;
})();

function quantise(cv: Canvas, rng: Rng, sigma: number, out: Uint8Array, offset: number): void {
  const { px } = cv;
  const n = px.length;
  let bits = 0;
  for (let i = 0; i < n; i++) {
    if ((i & 1) === 0) bits = rng.nextUint32();
    const z = NORMALS[(i & 1) === 0 ? bits & 0xffff : bits >>> 16];
    const v = px[i] * 255 + z * sigma;
    out[offset + i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
}

// ---------------------------------------------------------------------------------------
// Shapes. Each predicate takes local coordinates (u, v) where the shape fits the unit disc.

function polygon(points: number[]): (u: number, v: number) => boolean {
  const n = points.length / 2;
  return (u, v) => {
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = points[2 * i];
      const yi = points[2 * i + 1];
      const xj = points[2 * j];
      const yj = points[2 * j + 1];
      if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
}

function starPoints(k: number, inner: number): number[] {
  const pts: number[] = [];
  for (let i = 0; i < 2 * k; i++) {
    const r = i % 2 === 0 ? 1 : inner;
    const a = -Math.PI / 2 + (i * Math.PI) / k;
    pts.push(r * Math.cos(a), r * Math.sin(a));
  }
  return pts;
}

const triangle = polygon([0, -1, Math.cos(Math.PI / 6), 0.5, -Math.cos(Math.PI / 6), 0.5]);
const star5 = polygon(starPoints(5, 0.5));
const star6 = polygon(starPoints(6, 0.5));

const SHAPES: ((u: number, v: number) => boolean)[] = [
  (u, v) => u * u + v * v <= 0.9, // circle
  (u, v) => {
    const r = u * u + v * v;
    return r <= 1 && r >= 0.3;
  }, // ring
  (u, v) => Math.abs(u) <= 0.72 && Math.abs(v) <= 0.72, // square
  (u, v) => Math.abs(u) <= 0.75 && Math.abs(v) <= 0.75 && !(Math.abs(u) <= 0.42 && Math.abs(v) <= 0.42), // hollow square
  triangle,
  (u, v) => (Math.abs(u) <= 0.28 && Math.abs(v) <= 0.95) || (Math.abs(v) <= 0.28 && Math.abs(u) <= 0.95), // plus
  star5,
  star6,
  (u, v) => u * u + v * v <= 1 && v >= 0.05, // half disc
  (u, v) => u * u + v * v <= 1 && (u - 0.45) * (u - 0.45) + v * v > 0.6, // crescent
];

function drawShape(
  cv: Canvas,
  rng: Rng,
  cls: number,
  colour: RGB,
  radius: number,
  cx: number,
  cy: number,
): void {
  const inside = SHAPES[cls];
  const ang = rng.next() * 2 * Math.PI;
  const ca = Math.cos(ang);
  const sa = Math.sin(ang);
  const ax = radius * rng.range(0.85, 1.15);
  const ay = radius * rng.range(0.85, 1.15);
  const ext = Math.max(ax, ay) * 1.05;
  paint(cv, cx - ext, cy - ext, cx + ext, cy + ext, colour, 1, (x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    return inside((dx * ca + dy * sa) / ax, (-dx * sa + dy * ca) / ay);
  });
}

function renderShape(cv: Canvas, rng: Rng, cls: number): number {
  const s = cv.size;
  const bg = fillGradient(cv, rng);
  clutter(cv, rng, rng.int(3));
  if (rng.next() < 0.15) {
    // A small distractor of another class, away from nothing in particular.
    const other = (cls + 1 + rng.int(SHAPES.length - 1)) % SHAPES.length;
    const r = s * rng.range(0.07, 0.12);
    drawShape(cv, rng, other, randomColour(rng), r, rng.range(r, s - r), rng.range(r, s - r));
  }
  const radius = s * rng.range(0.25, 0.42);
  const margin = radius * 0.7;
  const cx = rng.range(margin, s - margin);
  const cy = rng.range(margin, s - margin);
  drawShape(cv, rng, cls, contrastingColour(rng, bg, rng.range(0.25, 0.5)), radius, cx, cy);
  if (rng.next() < 0.2) clutter(cv, rng, 1); // an occluder in front
  return rng.range(3, 14);
}

// ---------------------------------------------------------------------------------------
// Textures: value in [0, 1] (share of the second colour) at a point in texture coordinates.

type Texture = (u: number, v: number, x: number, y: number) => number;

function frac(v: number): number {
  return v - Math.floor(v);
}

interface TextureFrame {
  /** Texture coordinates: u = x * ca + y * sa + ph, v = -x * sa + y * ca + ph2 (in periods). */
  ca: number;
  sa: number;
  ph: number;
  ph2: number;
  tex: Texture;
}

function makeTexture(rng: Rng, cls: number, size: number): TextureFrame {
  const period = size * rng.range(0.11, 0.32);
  const ang = rng.next() * Math.PI * 2;
  const ca = Math.cos(ang) / period;
  const sa = Math.sin(ang) / period;
  const ph = rng.next();
  const ph2 = rng.next();
  const cx = rng.range(-0.2, 1.2) * size;
  const cy = rng.range(-0.2, 1.2) * size;
  const frame = (tex: Texture): TextureFrame => ({ ca, sa, ph, ph2, tex });
  switch (cls) {
    case 0: {
      const duty = rng.range(0.3, 0.6);
      return frame((u) => (frac(u) < duty ? 1 : 0));
    }
    case 1:
      return frame((u, v) => (Math.floor(u) + Math.floor(v)) & 1);
    case 2: {
      const r2 = rng.range(0.2, 0.34) ** 2;
      return frame((u, v) => {
        const du = frac(u) - 0.5;
        const dv = frac(v) - 0.5;
        return du * du + dv * dv < r2 ? 1 : 0;
      });
    }
    case 3: {
      const duty = rng.range(0.35, 0.6);
      const inv = 1 / period;
      return frame((_u, _v, x, y) => (frac(Math.hypot(x - cx, y - cy) * inv + ph) < duty ? 1 : 0));
    }
    case 4: {
      const w = rng.range(0.15, 0.3);
      return frame((u, v) => (frac(u) < w || frac(v) < w ? 1 : 0));
    }
    case 5:
    case 6: {
      // Waves (sine warp) and zigzags (triangle warp) of stripes: the confusable pair.
      const amp = rng.range(0.2, 0.55);
      const iwl = 1 / rng.range(1.5, 3.2);
      if (cls === 5) return frame((u, v) => (frac(u + amp * Math.sin(2 * Math.PI * v * iwl)) < 0.5 ? 1 : 0));
      return frame((u, v) => (frac(u + amp * (4 * Math.abs(frac(v * iwl) - 0.5) - 1)) < 0.5 ? 1 : 0));
    }
    case 7: {
      const n = Math.round(((size * size) / (period * period)) * rng.range(0.8, 1.4));
      const pts = new Float32Array(n * 3);
      for (let i = 0; i < n; i++) {
        pts[3 * i] = rng.next() * size;
        pts[3 * i + 1] = rng.next() * size;
        const r = period * rng.range(0.12, 0.3);
        pts[3 * i + 2] = r * r;
      }
      return frame((_u, _v, x, y) => {
        for (let i = 0; i < n; i++) {
          const dx = x - pts[3 * i];
          const dy = y - pts[3 * i + 1];
          if (dx * dx + dy * dy < pts[3 * i + 2]) return 1;
        }
        return 0;
      });
    }
    case 8: {
      const mortar = rng.range(0.12, 0.22);
      return frame((u, v) => {
        const row = Math.floor(v);
        const uu = u / 2 + (row & 1 ? 0.5 : 0);
        return frac(v) < mortar || frac(uu) < mortar / 2 ? 1 : 0;
      });
    }
    default: {
      const k = (5 + rng.int(8)) / (2 * Math.PI);
      const rot = rng.next();
      return frame((_u, _v, x, y) => (frac(Math.atan2(y - cy, x - cx) * k + rot) < 0.5 ? 1 : 0));
    }
  }
}

function renderTexture(cv: Canvas, rng: Rng, cls: number): number {
  const { size, px } = cv;
  // The texture fills a random soft-edged window (most of the image); the rest is a plain
  // gradient background, so position and extent vary too.
  const bg = fillGradient(cv, rng);
  const a = rng.next() < 0.5 ? bg : randomColour(rng);
  const b = contrastingColour(rng, a, rng.range(0.2, 0.45));
  const { ca, sa, ph, ph2, tex } = makeTexture(rng, cls, size);
  const wx = rng.range(0.25, 0.75) * size;
  const wy = rng.range(0.25, 0.75) * size;
  const rx = rng.range(0.35, 0.8) * size;
  const ry = rng.range(0.35, 0.8) * size;
  const square = rng.next() < 0.5;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = Math.abs(x + 0.5 - wx) / rx;
      const dy = Math.abs(y + 0.5 - wy) / ry;
      const d = square ? Math.max(dx, dy) : Math.sqrt(dx * dx + dy * dy);
      if (d >= 1) continue;
      const m = d < 0.85 ? 1 : (1 - d) / 0.15;
      let t = 0;
      for (let s = 0; s < 4; s++) {
        const xs = x + SUB[s & 1];
        const ys = y + SUB[s >> 1];
        t += tex(xs * ca + ys * sa + ph, -xs * sa + ys * ca + ph2, xs, ys);
      }
      t *= 0.25;
      const o = (y * size + x) * 3;
      const r = a[0] + (b[0] - a[0]) * t;
      const g = a[1] + (b[1] - a[1]) * t;
      const bl = a[2] + (b[2] - a[2]) * t;
      px[o] += (r - px[o]) * m;
      px[o + 1] += (g - px[o + 1]) * m;
      px[o + 2] += (bl - px[o + 2]) * m;
    }
  }
  clutter(cv, rng, 2 + rng.int(6));
  return rng.range(6, 26);
}

// ---------------------------------------------------------------------------------------

export interface SyntheticOptions {
  seed?: number;
  trainPerClass?: number;
  testPerClass?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

function checkCount(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 100000) {
    throw new UserError(
      `${what} must be a whole number from 0 to 100000 (got ${v}).`,
      'Choose a smaller or whole count.',
      'bad-spec',
    );
  }
  return v;
}

function generateSplit(
  name: SyntheticName,
  size: number,
  seed: number,
  split: number,
  perClass: number,
  opts: SyntheticOptions,
  done: { n: number; total: number },
): ImageSet {
  const classes = name === 'shapes' ? SHAPE_CLASSES.length : TEXTURE_CLASSES.length;
  const count = perClass * classes;
  const pixels = size * size * 3;
  const images = imageSetBuffer(count, size, `The synthetic ${name} dataset`);
  const labels = new Int32Array(count);
  const cv: Canvas = { size, px: new Float32Array(pixels) };
  const render = name === 'shapes' ? renderShape : renderTexture;
  for (let i = 0; i < count; i++) {
    if ((i & 255) === 0) {
      opts.signal?.throwIfAborted();
      opts.onProgress?.({ stage: 'Generating images', fraction: done.n / done.total });
    }
    const cls = i % classes;
    // One generator per image: independent of the order and of the other split's size.
    const rng = new Rng(((seed >>> 0) * 4 + split) * 1048576 + i);
    const sigma = render(cv, rng, cls);
    quantise(cv, rng, sigma, images, i * pixels);
    labels[i] = cls;
    done.n++;
  }
  return { images, labels, count, size };
}

export function syntheticId(
  name: SyntheticName,
  size: number,
  seed: number,
  trainPerClass: number,
  testPerClass: number,
): string {
  return `synthetic-${name}-${size}-s${seed}-${trainPerClass}x${testPerClass}`;
}

export function generateSynthetic(
  name: SyntheticName,
  size: 32 | 64,
  opts: SyntheticOptions = {},
): LoadedDataset {
  if (name !== 'shapes' && name !== 'textures') {
    throw new UserError(
      `There is no embedded dataset called "${String(name)}".`,
      'Choose "shapes" or "textures".',
      'bad-spec',
    );
  }
  if (size !== 32 && size !== 64) {
    throw new UserError(
      `The embedded datasets come in 32x32 and 64x64, not ${String(size)}.`,
      'Choose size 32 or 64.',
      'bad-spec',
    );
  }
  const seed = opts.seed ?? SYNTHETIC_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new UserError(
      `The seed must be a whole number from 0 to 4294967295 (got ${seed}).`,
      'Choose another seed.',
      'bad-spec',
    );
  }
  const trainPer = checkCount('trainPerClass', opts.trainPerClass ?? SYNTHETIC_DEFAULTS.trainPerClass);
  const testPer = checkCount('testPerClass', opts.testPerClass ?? SYNTHETIC_DEFAULTS.testPerClass);
  const classNames = syntheticClassNames(name);
  const done = { n: 0, total: Math.max(1, (trainPer + testPer) * classNames.length) };
  const train = generateSplit(name, size, seed, 0, trainPer, opts, done);
  const test = generateSplit(name, size, seed, 1, testPer, opts, done);
  opts.onProgress?.({ stage: 'Generating images', fraction: 1 });
  const info: DatasetInfo = {
    id: syntheticId(name, size, seed, trainPer, testPer),
    kind: 'synthetic',
    name: `${name} ${size}x${size}`,
    imageSize: size,
    classNames,
    trainCount: train.count,
    testCount: test.count,
    source: `embedded (seed ${seed})`,
  };
  return { info, train, test };
}
