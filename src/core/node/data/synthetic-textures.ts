// The 'textures' dataset's images: a periodic or stochastic texture (10 classes) with random
// period, orientation, phase, colour pair and contrast, in a soft-edged window over a gradient
// background, plus clutter. Waves and zigzags are the similar pair.

import type { Rng } from './random.ts';
import {
  clutter,
  contrastingColour,
  fillGradient,
  randomColour,
  SUB,
  type Canvas,
} from './synthetic-raster.ts';

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

export function renderTexture(cv: Canvas, rng: Rng, cls: number): number {
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
