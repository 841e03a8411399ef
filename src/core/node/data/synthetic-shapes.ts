// The 'shapes' dataset's images: one large foreground shape per image (10 classes) at a random
// position, scale, aspect and rotation, in a random colour, over a random gradient background
// with clutter (line segments, blobs, sometimes a small distractor shape of another class),
// sometimes partly occluded. A 5-point and a 6-point star are the similar pair.

import type { Rng } from './random.ts';
import {
  clutter,
  contrastingColour,
  fillGradient,
  paint,
  randomColour,
  type Canvas,
  type RGB,
} from './synthetic-raster.ts';

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

export function renderShape(cv: Canvas, rng: Rng, cls: number): number {
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
