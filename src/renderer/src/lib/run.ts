// What the run page shows of one recorded run: its kind in words, its parameters and result as
// readable key/value rows (long values as collapsible JSON), its decomposition as Table 1, and
// what a resumed training's energy carries. Pure functions of the RunDetailView, tested alone.
import {
  isEstimatedSource,
  runPurpose,
  type EpochMetrics,
  type RunDetailView,
  type RunSummary,
  type Table1View,
} from '../../../core/common/api.ts';
import { num, pct } from './format.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const KIND_TEXT: Record<string, string> = {
  train: 'Training from scratch',
  demo: 'Demo training',
  decompose: 'Decomposition',
  evaluate: 'Evaluation',
  reuse: 'Reuse scenario',
  replace: 'Replace scenario',
};

/** The run's kind in words, with what it was part of (its experiment and role: runPurpose). */
export function kindText(run: Pick<RunSummary, 'kind' | 'role' | 'scenario' | 'experimentKind'>): string {
  const base = KIND_TEXT[run.kind] ?? run.kind;
  const part = runPurpose(run).partOf;
  return part ? `${base} (${part})` : base;
}

/** Whether the energy figures are estimates: 'estimated' (no power counter), 'partly' (a resumed
 *  run whose earlier attempts were estimated, e.g. "rapl+estimate"), or 'measured'. */
export function estimateLevel(source: string | null | undefined): 'estimated' | 'partly' | 'measured' {
  if (!source || source === 'none' || source.startsWith('estimate')) return 'estimated';
  return isEstimatedSource(source) ? 'partly' : 'measured';
}

/** One row of a key/value list: short values as text, long or nested ones as JSON to expand. */
export interface Entry {
  key: string;
  text: string;
  /** Set when the value is long or nested: its pretty JSON, shown collapsed. */
  json?: string;
}

const SHORT = 80;

/** A value as one line, or null when it needs the JSON view. */
function shortText(v: unknown): string | null {
  if (v == null) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : num(v, 4);
  if (typeof v === 'string') return v.length <= 240 ? v : null;
  if (Array.isArray(v) && v.every((x) => x == null || typeof x !== 'object')) {
    const s = v.map((x) => shortText(x)).join(', ');
    return s.length <= SHORT ? s || '(none)' : null;
  }
  if (isObj(v) || Array.isArray(v)) {
    const s = JSON.stringify(v);
    return s.length <= SHORT ? s : null;
  }
  return String(v);
}

function summary(v: unknown): string {
  if (Array.isArray(v)) return `${v.length} item${v.length === 1 ? '' : 's'}`;
  if (isObj(v)) return `${Object.keys(v).length} fields`;
  if (typeof v === 'string') return `${v.slice(0, SHORT)}…`;
  return '';
}

export function entry(key: string, v: unknown): Entry {
  const text = shortText(v);
  return text !== null ? { key, text } : { key, text: summary(v), json: JSON.stringify(v, null, 2) };
}

/** A run's parameters as rows, in their recorded order. */
export function paramEntries(params: unknown): Entry[] {
  if (params == null) return [];
  if (!isObj(params)) return [entry('value', params)];
  return Object.entries(params).map(([k, v]) => entry(k, v));
}

// Result fields shown on their own, in this order, with how to write them.
const RESULT_FIELDS: [key: string, label: string, fmt: (v: unknown) => string][] = [
  ['top1', 'Top-1 (test)', (v) => pct(v as number)],
  ['top5', 'Top-5 (test)', (v) => pct(v as number)],
  ['model_top1', "Model's top-1", (v) => pct(v as number)],
  ['model_top5', "Model's top-5", (v) => pct(v as number)],
  ['mma', 'Mean module accuracy (MMA)', (v) => pct(v as number)],
  ['ma', 'Module accuracy (MA)', (v) => pct(v as number)],
  ['tma', 'Trained model accuracy (TMA)', (v) => pct(v as number)],
  ['epochs_done', 'Epochs done', String],
  ['best_epoch', 'Best epoch', String],
  ['resumed_from', 'Resumed after epoch', String],
  ['test_images', 'Test images', String],
  ['model_dir', 'Model folder', String],
  ['modules_dir', 'Module set folder', String],
];
// Shown elsewhere on the page (Table 1, the energy section), or only in the JSON.
const RESULT_ELSEWHERE = new Set(['decomposition', 'model', 'energy_carried']);

/** The result's common fields, written for a person; everything else as key/value rows. */
export function resultEntries(result: unknown): Entry[] {
  if (result == null) return [];
  if (!isObj(result)) return [entry('value', result)];
  const out: Entry[] = [];
  for (const [key, label, fmt] of RESULT_FIELDS) {
    const v = result[key];
    if (v == null) continue;
    // resumed_from 0 means the training started fresh: not worth a row.
    if (key === 'resumed_from' && v === 0) continue;
    out.push({ key: label, text: typeof v === 'number' || typeof v === 'string' ? fmt(v) : String(v) });
  }
  const known = new Set(RESULT_FIELDS.map(([k]) => k));
  for (const [k, v] of Object.entries(result))
    if (!known.has(k) && !RESULT_ELSEWHERE.has(k)) out.push(entry(k, v));
  return out;
}

/** A decomposition run's result as Table 1 (the app's job result and the CLI's JSON both work). */
export function table1Of(run: Pick<RunSummary, 'result' | 'params'>): Table1View | null {
  const r = run.result;
  if (!isObj(r) || !Array.isArray(r.decomposition) || r.decomposition.length === 0) return null;
  const m = isObj(r.model) ? r.model : {};
  const p = isObj(run.params) ? run.params : {};
  const n = (v: unknown) => (isNum(v) ? v : NaN);
  return {
    modelDir: String(p.model_dir ?? p.model ?? ''),
    datasetId: String(p.dataset ?? 'the dataset'),
    testImages: n(r.test_images),
    model: {
      top1: n(r.model_top1 ?? m.top1),
      top5: n(r.model_top5 ?? m.top5),
      evalSeconds: n(m.evalSeconds ?? m.eval_seconds),
    },
    rows: r.decomposition.filter(isObj).map((d) => ({
      approach: String(d.approach ?? '?'),
      top1: n(d.top1),
      top5: n(d.top5),
      ji: n(d.ji),
      jiModules: n(d.ji_modules),
      seconds: n(d.seconds),
      evalSeconds: n(d.eval_seconds ?? d.evalSeconds),
      dir: null,
      modules: [],
    })),
    warnings: Array.isArray(r.warnings) ? r.warnings.map(String) : [],
  };
}

/** Which earlier runs a resumed training's figures include, from result.energy_carried. */
export interface Carried {
  runs: number[];
  throughEpoch: number;
  complete: boolean;
  resumedFrom: number | null;
}

export function carriedOf(result: unknown): Carried | null {
  if (!isObj(result) || !isObj(result.energy_carried)) return null;
  const c = result.energy_carried;
  const runs = Array.isArray(c.from_runs) ? c.from_runs.filter(isNum) : [];
  return {
    runs,
    throughEpoch: isNum(c.through_epoch) ? c.through_epoch : 0,
    complete: c.complete !== false,
    resumedFrom: isNum(result.resumed_from) ? result.resumed_from : null,
  };
}

/** The epochs in the shape the epoch charts draw (missing values are gaps). */
export function chartEpochs(run: Pick<RunDetailView, 'epochs' | 'params'>): EpochMetrics[] {
  const p = isObj(run.params) ? run.params : {};
  const last = Math.max(0, ...run.epochs.map((e) => e.epoch));
  const total = isNum(p.epochs) ? Math.max(p.epochs, last) : last;
  return run.epochs.map((e) => ({
    epoch: e.epoch,
    epochs: total,
    loss: e.loss ?? NaN,
    accuracy: e.accuracy ?? NaN,
    valAccuracy: e.valAccuracy ?? NaN,
    seconds: e.seconds ?? NaN,
    best: e.best,
  }));
}
