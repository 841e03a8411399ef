// Pure helpers of the fix-it wizard page: rates read off a confusion matrix, which models can
// serve as option 1's better model, and the default name of a saved repair.
import type { ModelSummary } from '../../../core/common/api.ts';

/** Images of class `row` (true label), and the share of them predicted as `col`. */
export function cellRate(
  matrix: number[][],
  row: number,
  col: number,
): { count: number; of: number; rate: number } {
  const r = matrix[row] ?? [];
  const of = r.reduce((a, b) => a + b, 0);
  const count = r[col] ?? 0;
  return { count, of, rate: of ? count / of : 0 };
}

export interface Confusion {
  victim: number;
  faulty: number;
  count: number;
  of: number;
  rate: number;
}

/** The off-diagonal cells with the highest rates, highest first (ties: the higher count). */
export function topConfusions(matrix: number[][], n: number): Confusion[] {
  const out: Confusion[] = [];
  matrix.forEach((row, victim) => {
    const of = row.reduce((a, b) => a + b, 0);
    row.forEach((count, faulty) => {
      if (faulty !== victim && count > 0) out.push({ victim, faulty, count, of, rate: of ? count / of : 0 });
    });
  });
  return out.sort((a, b) => b.rate - a.rate || b.count - a.count).slice(0, n);
}

const sameNames = (a: readonly string[] | null | undefined, b: readonly string[] | null | undefined) =>
  Boolean(a && b && a.length === b.length && a.every((x, i) => x === b[i]));

/**
 * Models that can stand in as option 1's better model: other models of the same classes (in
 * the same order) and, when both are known, the same input size; not one still training.
 */
export function betterCandidates(
  models: readonly ModelSummary[],
  faultyDir: string,
  classNames: readonly string[] | null | undefined,
  inputSize: number | null | undefined,
): ModelSummary[] {
  return models.filter(
    (m) =>
      m.dir !== faultyDir &&
      m.status !== 'running' &&
      sameNames(m.classNames, classNames) &&
      (inputSize == null || m.inputSize == null || m.inputSize === inputSize),
  );
}

/** A folder name the core accepts (letters, digits, . _ -, starting with a letter or digit, at most 100). */
export function sanitizeName(s: string): string {
  const clean = s
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100)
    .replace(/[-.]+$/, '');
  return clean || 'repaired';
}

export function defaultRepairName(faultyName: string, option: number): string {
  return sanitizeName(`repaired-${faultyName}-option-${option}`);
}
