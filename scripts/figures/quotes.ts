// Every figure the README quotes, as the sentence that quotes it with holes for the recorded
// values: `{output.model.top1:pct}` is the demo record's output.model.top1 written as a
// percentage. A quote passes when its sentence, filled from the recorded output, is in the
// README (whitespace and line breaks aside), so a README edited away from its record, or a
// record regenerated without the README, fails the check. Holes marked `~` (times, energy,
// load) vary from run to run by nature: a rerun compares only the others.
import fs from 'node:fs';
import path from 'node:path';
import { at, ROOT, readRecord, recordFile, type Quote, type Record } from './record.ts';
import { QUOTES } from './readme.ts';

export { QUOTES, type Quote };

const FORMATS: { [name: string]: (v: number) => string } = {
  /** a fraction as a percentage, one decimal: 0.4534 -> 45.3% */
  pct: (v) => `${(v * 100).toFixed(1)}%`,
  /** a fraction as a whole percentage: 0.83 -> 83% */
  pct0: (v) => `${Math.round(v * 100)}%`,
  /** a fraction as a percentage with two decimals, no sign: 0.84161 -> 84.16 */
  pct2: (v) => (v * 100).toFixed(2),
  /** a fraction as a percentage with one decimal, no sign */
  pct1: (v) => (v * 100).toFixed(1),
  /** two decimals */
  f2: (v) => v.toFixed(2),
  /** one decimal */
  f1: (v) => v.toFixed(1),
  /** a ratio: 3.04 -> 3.0x */
  x: (v) => `${v.toFixed(1)}x`,
  int: (v) => String(Math.round(v)),
  /** seconds as whole minutes */
  min: (v) => String(Math.round(v / 60)),
  /** bytes as megabytes, two decimals */
  mb: (v) => (v / 1e6).toFixed(2),
};

/** Formats of other values. */
const OTHER: { [name: string]: (v: unknown) => string | null } = {
  /** a class as `dataset:class` -> class */
  cls: (v) => (typeof v === 'string' ? v.slice(v.lastIndexOf(':') + 1) : null),
  /** a CO2e ratio: 3.04 -> 3.0x, null (a side below its noise floor) -> null */
  ratio: (v) => (typeof v === 'number' ? `${v.toFixed(1)}x` : v === null ? 'null' : null),
  /** a baseline's convergence */
  converged: (v) => (v === true ? 'converged' : v === false ? 'still improving at its last epoch' : null),
  /** a scenario row's warning: none -> nothing, else "; flagged: <the warning>" */
  flag: (v) => (v === null ? '' : typeof v === 'string' ? `; flagged: ${v}` : null),
};

/** Formats of a list of numbers (a `[*]` path). */
const RANGES: { [name: string]: (v: number[]) => string } = {
  /** the smallest and largest, as megabytes: 1.196 and 1.205 MB -> 1.20-1.21 */
  mbrange: (v) => {
    const [lo, hi] = [Math.min(...v), Math.max(...v)].map((x) => (x / 1e6).toFixed(2));
    return lo === hi ? lo! : `${lo}-${hi}`;
  },
};

/** One hole's value written in its format, or why it cannot be. */
function fill(v: unknown, p: string, f: string | undefined): string | { error: string } {
  if (f === undefined)
    return typeof v === 'string' || typeof v === 'number'
      ? String(v)
      : { error: `${p} is ${JSON.stringify(v)}` };
  const other = OTHER[f];
  if (other) return other(v) ?? { error: `${p} is ${JSON.stringify(v)}, which ${f} cannot write` };
  const range = RANGES[f];
  if (range)
    return Array.isArray(v) && v.length && v.every((x) => typeof x === 'number')
      ? range(v)
      : { error: `${p} is ${JSON.stringify(v)}, not a list of numbers` };
  const fmt = FORMATS[f];
  if (!fmt) return { error: `unknown format ${f}` };
  return typeof v === 'number' ? fmt(v) : { error: `${p} is ${JSON.stringify(v)}, not a number` };
}

/** The quote's sentence filled from `rec` (volatile holes as … unless `volatile`), or why it cannot be. */
export function render(q: Quote, rec: Record, volatile = true): string | { error: string } {
  let error = '';
  const text = q.text.replace(
    /\{(~?)([^}:]+)(?::([a-z0-9]+))?\}/g,
    (_, tilde: string, p: string, f?: string) => {
      if (tilde && !volatile) return '…';
      const r = fill(at(rec, p), p, f);
      if (typeof r === 'string') return r;
      error ||= r.error;
      return '?';
    },
  );
  return error ? { error: `${q.step}: "${q.text}": ${error}` } : text;
}

const squash = (s: string) => s.replace(/\s+/g, ' ');

/** Problems: quotes that are not in the README as their record fills them. */
export function checkReadme(readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')): string[] {
  const text = squash(readme);
  const problems: string[] = [];
  for (const q of QUOTES) {
    const rec = readRecord(q.step);
    if (!rec) {
      problems.push(`${q.step}: no recorded output (${path.relative(ROOT, recordFile(q.step))})`);
      continue;
    }
    const r = render(q, rec);
    if (typeof r !== 'string') problems.push(r.error);
    else if (!text.includes(squash(r)))
      problems.push(`README.md does not say what ${path.relative(ROOT, recordFile(q.step))} says: "${r}"`);
  }
  return problems;
}

/** Quoted figures of `id` that a rerun changed (volatile holes aside). */
export function compareRecords(id: string, before: Record | null, after: Record): string[] {
  if (!before) return [];
  const out: string[] = [];
  for (const q of QUOTES.filter((x) => x.step === id)) {
    const a = render(q, before, false);
    const b = render(q, after, false);
    if (typeof a === 'string' && typeof b === 'string' && a !== b)
      out.push(`${id}: recorded "${a}", now "${b}"`);
  }
  return out;
}
