// Pure helpers of the Decompose and Reuse pages: a module's mask picture as cells, and
// which picked models and classes can be composed (and why not).
import { modelTag } from './models.ts';
import type { ModelSummary, ModuleMaskView, ScenarioPick } from '../../../core/common/api.ts';

export interface MaskCell {
  x: number;
  y: number;
  /** Kept fraction of the channel, 0..1. */
  kept: number;
  title: string;
}

export interface MaskRow {
  layer: string;
  /** e.g. "32×32×16" */
  shape: string;
  /** Mean kept fraction of the layer. */
  kept: number;
  y: number;
  cells: MaskCell[];
}

export interface MaskPicture {
  rows: MaskRow[];
  width: number;
  height: number;
  cell: number;
}

/**
 * One row of cells per mask layer, one cell per channel (a dense layer: per unit), shaded by
 * the channel's kept fraction; long layers wrap after `perRow` cells.
 */
export function maskPicture(masks: ModuleMaskView[], perRow = 64, cell = 8, gap = 4): MaskPicture {
  const rows: MaskRow[] = [];
  let y = 0;
  let maxCols = 0;
  for (const m of masks) {
    const n = m.keptByChannel.length;
    const cols = Math.min(perRow, Math.max(1, n));
    maxCols = Math.max(maxCols, cols);
    const cells = m.keptByChannel.map((kept, c) => ({
      x: (c % perRow) * cell,
      y: y + Math.floor(c / perRow) * cell,
      kept,
      title: `${m.layer} channel ${c}: ${(kept * 100).toFixed(0)}% kept`,
    }));
    const mean = n ? m.keptByChannel.reduce((s, k) => s + k, 0) / n : 0;
    rows.push({ layer: m.layer, shape: m.shape.join('×'), kept: mean, y, cells });
    y += Math.max(1, Math.ceil(n / perRow)) * cell + gap;
  }
  return { rows, width: maxCols * cell, height: Math.max(0, y - gap), cell };
}

/** A fill for a kept fraction: removed (0) light, kept (1) dark. */
export function keptColor(kept: number): string {
  const k = Math.max(0, Math.min(1, kept));
  const light = Math.round(92 - k * 60);
  return `hsl(212 70% ${light}%)`;
}

export interface Compatibility {
  ok: boolean;
  reasons: string[];
}

const sizeText = (m: ModelSummary) => (m.inputSize ? `${m.inputSize}×${m.inputSize}` : 'an unknown size');

/** Whether modules of these models can be composed together, and why not. */
export function modelsCompatible(models: (ModelSummary | undefined)[]): Compatibility {
  const reasons: string[] = [];
  const present = models.filter((m): m is ModelSummary => Boolean(m));
  for (const m of present)
    if (!m.classNames?.length)
      reasons.push(`${m.source ? modelTag(m) : `Model #${m.runId}`} does not list its classes (no meta).`);
  const sizes = new Set(present.map((m) => m.inputSize));
  if (sizes.size > 1)
    reasons.push(
      `Modules whose models take different input sizes cannot be composed: ${present
        .map((m) => `${modelTag(m)} takes ${sizeText(m)}`)
        .join(', ')}.`,
    );
  return { ok: reasons.length === 0, reasons };
}

/** What is wrong with a reuse scenario's picks, or [] when it can run. */
export function reuseProblems(models: (ModelSummary | undefined)[], picks: ScenarioPick[]): string[] {
  const out = modelsCompatible(models).reasons;
  if (picks.length < 2) out.push('Pick at least two classes to compose.');
  return out;
}

/** What is wrong with a replace scenario, or [] when it can run. */
export function replaceProblems(a: ModelSummary | undefined, b: ModelSummary | undefined): string[] {
  if (!a || !b)
    return [
      'A replace scenario needs two models: the one whose module is replaced, and the one replacing it.',
    ];
  if (a.dir === b.dir) return ['Pick a different second model: a module replaced by itself changes nothing.'];
  return modelsCompatible([a, b]).reasons;
}

/** A class label of a model for the builder: "shapes: circle (model #3)". */
export function pickLabel(models: (ModelSummary | undefined)[], p: ScenarioPick): string {
  const m = models[p.source];
  const name = m?.classNames?.[p.classIndex] ?? `class ${p.classIndex}`;
  return m ? `${name} (${modelTag(m)})` : name;
}
