// The raster the embedded synthetic datasets are drawn on: a float RGB canvas in [0, 1] (HWC),
// colours, antialiased painting (2x2 supersampling), clutter (line segments, blobs) and the
// per-pixel Gaussian noise with which it is quantised into the dataset's bytes.

import { Rng } from './random.ts';

export type RGB = [number, number, number];

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

export function randomColour(rng: Rng): RGB {
  return hsv(rng.next(), rng.range(0.1, 1), rng.range(0.15, 1));
}

/** A colour whose luminance differs from `other` by at least `minDiff`. */
export function contrastingColour(rng: Rng, other: RGB, minDiff: number): RGB {
  let best = randomColour(rng);
  for (let k = 0; k < 12 && Math.abs(lum(best) - lum(other)) < minDiff; k++) {
    const c = randomColour(rng);
    if (Math.abs(lum(c) - lum(other)) > Math.abs(lum(best) - lum(other))) best = c;
  }
  return best;
}

export interface Canvas {
  size: number;
  px: Float32Array;
}

/** The 2x2 supersampling offsets within a pixel. */
export const SUB = [0.25, 0.75];

export function fillGradient(cv: Canvas, rng: Rng): RGB {
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
export function paint(
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

export function clutter(cv: Canvas, rng: Rng, count: number): void {
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

export function quantise(cv: Canvas, rng: Rng, sigma: number, out: Uint8Array, offset: number): void {
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
