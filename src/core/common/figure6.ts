// The paper's Figure 6 for any set of scenarios: per scenario, the CO2e of training from
// scratch (for the fixed epochs, and until its best validation epoch) beside reuse or replace
// alone and with its share of the one-time decomposition, on a log axis, with each side's
// accuracy. One SVG writer serves the app (inline) and the CLI (`--chart FILE`), so both draw
// the same chart. Horizontal bars, one block per scenario, so dozens of scenarios stay readable.
import type { ScenarioView } from './api.ts';
import { CROWDED_SHARE } from './energy.ts';
import { chartUnit, CO2E_UNITS, decadeLabel, formatIn, labelledDecades } from './units.ts';

export interface Figure6Scenario {
  /** What the scenario did, e.g. "reuse (intra): cat + dog". */
  label: string;
  baselineFixedKg: number;
  baselineBestKg: number;
  /** Reuse or replace itself: building the composed classifier and predicting. */
  reuseKg: number;
  /** This scenario's share of the one-time decomposition behind it. */
  decompositionShareKg: number;
  /** How many scenarios of the chart share that decomposition. */
  sharedBy: number;
  /** Any figure of the scenario came from the documented estimate, not a power counter. */
  estimated: boolean;
  /** How its energy was attributed: process, machine or mixed (absent: machine). */
  attribution?: string;
  /** A side below its noise floor (absent: judged by whether it is above zero). */
  reuseBelowFloor?: boolean;
  baselineBelowFloor?: boolean;
  /** Process attribution: sides measured as a small share of a busy machine. */
  crowdedSides?: readonly ('reuse' | 'baseline')[];
  modulesAccuracy: string;
  baselineAccuracy: string;
  /** False when the baseline was still improving when it stopped; null when not recorded. */
  baselineConverged: boolean | null;
  /** Modules' accuracy minus the baseline's (fractions), when both are known. */
  accuracyGap: number | null;
}

export const FIGURE6_BARS = [
  { key: 'baselineFixedKg', name: 'training, fixed epochs', color: '#b2182b' },
  { key: 'baselineBestKg', name: 'training until best epoch', color: '#ef8a62' },
  { key: 'reuseKg', name: 'reuse / replace', color: '#2166ac' },
  { key: 'withDecompositionKg', name: 'reuse / replace + decomposition share', color: '#67a9cf' },
] as const;

/** A modules' accuracy below the baseline's by more than this is flagged beside the ratio. */
export const ACCURACY_GAP_WARNING = 0.03;

const pct = (x: number | undefined | null) =>
  x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(1)}%`;

/**
 * The chart's scenarios from the API's views. Rows whose decomposition cost is the same
 * figure come from the same one-time decomposition (a grid or demo decomposes each model
 * once), so that cost is split evenly between them.
 */
export function figure6Scenarios(
  rows: readonly ScenarioView[],
  /** Per row, what to say first (the experiment it came from, when several are shown). */
  prefixes: readonly string[] = [],
): Figure6Scenario[] {
  const sharing = new Map<number, number>();
  for (const r of rows) sharing.set(r.decompositionCo2eKg, (sharing.get(r.decompositionCo2eKg) ?? 0) + 1);
  return rows.map((r, i) => {
    const sharedBy = sharing.get(r.decompositionCo2eKg) ?? 1;
    const modules =
      r.scenario === 'reuse'
        ? r.mma !== undefined
          ? `MA ${pct(r.ma)}, MMA ${pct(r.mma)}`
          : `MA ${pct(r.ma)}`
        : `composed top-1 ${pct(r.top1)}`;
    const modulesTop1 = r.scenario === 'reuse' ? (r.mma ?? r.ma) : r.top1;
    const baseline =
      r.scenario === 'replace' && r.modelTop1 !== undefined
        ? `model ${pct(r.modelTop1)}, TMA ${pct(r.tma)}`
        : `TMA ${pct(r.tma)}`;
    return {
      label: `${prefixes[i] ? `${prefixes[i]} ` : ''}${r.scenario} (${r.kind}): ${r.classes.join(' + ')}`,
      baselineFixedKg: r.baselineFixedCo2eKg,
      baselineBestKg: r.baselineBestCo2eKg,
      reuseKg: r.reuseCo2eKg,
      decompositionShareKg: r.decompositionCo2eKg / sharedBy,
      sharedBy,
      estimated: r.estimated,
      ...(r.attribution !== undefined ? { attribution: r.attribution } : {}),
      ...(r.reuseBelowFloor !== undefined ? { reuseBelowFloor: r.reuseBelowFloor } : {}),
      ...(r.baselineBelowFloor !== undefined ? { baselineBelowFloor: r.baselineBelowFloor } : {}),
      ...(r.crowdedSides?.length ? { crowdedSides: r.crowdedSides } : {}),
      modulesAccuracy: modules,
      baselineAccuracy: baseline,
      baselineConverged: r.baselineConverged ?? null,
      accuracyGap: modulesTop1 === undefined ? null : modulesTop1 - r.tma,
    };
  });
}

/**
 * After how many reuses the one-time decomposition has paid for itself against training
 * until the best epoch: the smallest n with n * (baseline - reuse) >= decomposition. Null when
 * reuse saves nothing (it never pays).
 */
export function breakEven(
  s: Pick<Figure6Scenario, 'baselineBestKg' | 'reuseKg'>,
  decompositionKg: number,
): number | null {
  const saved = s.baselineBestKg - s.reuseKg;
  if (!(saved > 0)) return null;
  return Math.max(1, Math.ceil(decompositionKg / saved));
}

/** Why a scenario's comparison cannot be taken at face value, or null. */
export function scenarioWarning(s: Figure6Scenario): string | null {
  const parts: string[] = [];
  if (s.baselineConverged === false) parts.push('baseline still improving when it stopped');
  if (s.accuracyGap !== null && s.accuracyGap < -ACCURACY_GAP_WARNING)
    parts.push(`modules ${(-s.accuracyGap * 100).toFixed(1)} points below the baseline`);
  // A side below its noise floor gives no ratio (common/energy.ts co2eRatio). In machine
  // attribution that means the background was busier during the idle measurement than during
  // the run; in process attribution, that the run itself drew next to nothing.
  const below = [
    ...((s.reuseBelowFloor ?? !(s.reuseKg > 0)) ? ['reuse side'] : []),
    ...((s.baselineBelowFloor ?? !(s.baselineBestKg > 0)) ? ['baseline'] : []),
  ];
  if (below.length)
    parts.push(
      (s.attribution ?? 'machine') === 'machine'
        ? `no energy above idle measured for the ${below.join(' and the ')} (not above the noise floor): no ratio (was the machine busier while idle power was measured?)`
        : `the ${below.join(' and the ')} drew less than the noise floor: no ratio`,
    );
  if (s.crowdedSides?.length)
    parts.push(
      `the ${s.crowdedSides.map((x) => (x === 'reuse' ? 'reuse side' : x)).join(' and the ')} ran on a crowded machine (under ${CROWDED_SHARE * 100}% of its busy CPU time): ${s.crowdedSides.length > 1 ? 'their figures are their' : 'its figure is its'} share`,
    );
  return parts.length ? parts.join('; ') : null;
}

/** How the chart's energy was attributed, in a sentence for its notes. */
export function attributionNote(scenarios: readonly Pick<Figure6Scenario, 'attribution'>[]): string {
  const modes = new Set(scenarios.map((s) => s.attribution ?? 'machine'));
  if (modes.size === 1 && modes.has('process')) return "Energy attributed per process (each run's share).";
  if (modes.size === 1 && modes.has('machine'))
    return 'Energy attributed per machine (all of it minus idle).';
  return 'Energy attributed per process and per machine (mixed).';
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Decades covering every positive figure: [10^lo, 10^hi]. */
export function logDomain(values: readonly number[]): [number, number] {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  if (!pos.length) return [-1, 0];
  let lo = Math.floor(Math.log10(Math.min(...pos)));
  let hi = Math.ceil(Math.log10(Math.max(...pos)));
  if (hi <= lo) hi = lo + 1;
  if (hi - lo > 12) lo = hi - 12; // below a trillionth of the largest bar nothing is readable
  return [lo, hi];
}

export interface Figure6Options {
  title?: string;
  width?: number;
}

/** The chart as one standalone SVG document (also valid inline in HTML). */
export function figure6Svg(scenarios: readonly Figure6Scenario[], opts: Figure6Options = {}): string {
  const width = opts.width ?? 860;
  const left = 290;
  const right = 90;
  const plotW = width - left - right;
  const barH = 11;
  const gap = 3;
  const line = 13;
  const blockPad = 16;
  const headerH = opts.title ? 56 : 34;
  const legendH = 24;
  const rowsH = FIGURE6_BARS.length * (barH + gap);
  // Each scenario's name spans the chart above its bars, wrapped; its accuracies and warning
  // fill the column left of the bars (wrapped too), so nothing runs under a bar.
  const blocks = scenarios.map((s) => {
    const title = wrap(s.label, Math.floor((width - 16) / BOLD_CHAR_PX), 3);
    const warning = scenarioWarning(s);
    const notes = warning ? wrap(`⚠ ${warning}`, Math.floor((left - 16) / CHAR_PX), 4) : [];
    const side = 3 + notes.length; // modules, from scratch, notes, then a little room
    return {
      s,
      title,
      warning,
      notes,
      h: title.length * line + Math.max(rowsH + line, side * line) + blockPad,
    };
  });
  const height = headerH + legendH + blocks.reduce((a, b) => a + b.h, 0) + 44;
  // Numbers only: a row read back from a file or the store could hold anything.
  const kgsOf = (s: Figure6Scenario) =>
    [s.baselineFixedKg, s.baselineBestKg, s.reuseKg, s.reuseKg + s.decompositionShareKg].map(Number);
  const values = scenarios.flatMap(kgsOf);
  const [lo, hi] = logDomain(values);
  // One unit for the whole chart: its axis, its bars' figures and their titles.
  const unit = chartUnit(values, CO2E_UNITS);
  const inUnit = (kg: number) => `${formatIn(kg, unit)} ${unit.name}`;
  const x = (v: number) => left + ((Math.log10(v) - lo) / (hi - lo)) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11" role="img" aria-label="${esc(opts.title ?? 'CO2e per scenario')}">`,
    '<defs><pattern id="fig6-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="none"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.5"/></pattern></defs>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  );
  let y = 18;
  if (opts.title) {
    out.push(`<text x="8" y="${y}" font-size="14" font-weight="600">${esc(opts.title)}</text>`);
    y += 22;
  }
  out.push(
    `<text class="fig6-unit" x="8" y="${y}" fill="#444">CO2e in ${unit.name}, log scale. Hatched: estimated (no power counter was readable). ${esc(attributionNote(scenarios))}</text>`,
  );
  y += 16;
  // Legend.
  let lx = 8;
  for (const b of FIGURE6_BARS) {
    out.push(
      `<rect x="${lx}" y="${y}" width="12" height="10" fill="${b.color}"/><text x="${lx + 16}" y="${y + 9}">${esc(b.name)}</text>`,
    );
    lx += 28 + b.name.length * 6;
  }
  y += legendH;
  const top = y;
  // Decade grid lines, and labels in the chart's unit on as many as fit without overlapping.
  const gridBottom = top + blocks.reduce((a, b) => a + b.h, 0);
  const tickLabel = (d: number) => decadeLabel(d, unit);
  const labelled = new Set(labelledDecades(lo, hi, plotW, tickLabel, CHAR_PX));
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d).toFixed(1);
    out.push(
      `<line class="fig6-grid" x1="${gx}" x2="${gx}" y1="${top - 4}" y2="${gridBottom}" stroke="#ddd"/>`,
    );
    if (labelled.has(d))
      out.push(
        `<text class="fig6-tick" x="${gx}" y="${gridBottom + 14}" text-anchor="middle" fill="#444">${esc(tickLabel(d))}</text>`,
      );
  }
  out.push(
    `<text class="fig6-axis" x="${left + plotW}" y="${gridBottom + 28}" text-anchor="end" fill="#444">${esc(unit.name)} CO2e</text>`,
  );
  // Wrapped text: one element (its full text as the title), a tspan per line.
  const lines = (cls: string, x0: number, y0: number, attrs: string, rows: string[], full: string) =>
    `<text class="${cls}" x="${x0}" y="${y0}"${attrs}><title>${esc(full)}</title>${rows
      .map((r, k) => `<tspan x="${x0}" dy="${k ? line : 0}">${esc(r)}</tspan>`)
      .join('')}</text>`;
  let blockTop = top;
  blocks.forEach(({ s, title, warning, notes, h }, i) => {
    out.push(`<g class="fig6-scenario" data-index="${i}">`);
    out.push(lines('fig6-label', 8, blockTop + 10, ' font-weight="600"', title, s.label));
    // The bars and the column left of them start under the name.
    const by = blockTop + title.length * line + 2;
    out.push(
      `<text x="8" y="${by + 10}" fill="#2166ac">modules: ${esc(s.modulesAccuracy)}</text>`,
      `<text x="8" y="${by + 23}" fill="#b2182b">from scratch: ${esc(s.baselineAccuracy)}</text>`,
    );
    if (warning) out.push(lines('fig6-warning', 8, by + 36, ' fill="#a05a00"', notes, warning));
    const kgs = kgsOf(s);
    FIGURE6_BARS.forEach((b, j) => {
      const v = kgs[j]!;
      const ry = by + j * (barH + gap);
      const w = v > 0 ? Math.max(1, x(Math.max(v, 10 ** lo)) - left) : 0;
      const name = `${b.name}: ${inUnit(v)}${s.estimated ? ' (estimated)' : ''}`;
      out.push(
        `<rect class="fig6-bar" data-bar="${b.key}" data-kg="${esc(String(v))}" x="${left}" y="${ry}" width="${w.toFixed(1)}" height="${barH}" fill="${b.color}"><title>${esc(name)}</title></rect>`,
      );
      if (s.estimated && w > 0)
        out.push(
          `<rect class="fig6-estimate" x="${left}" y="${ry}" width="${w.toFixed(1)}" height="${barH}" fill="url(#fig6-hatch)"/>`,
        );
      out.push(
        `<text class="fig6-value" x="${(left + w + 4).toFixed(1)}" y="${ry + barH - 2}" fill="#333">${esc(inUnit(v))}</text>`,
      );
    });
    const even = breakEven(s, s.decompositionShareKg * s.sharedBy);
    const note =
      even === null
        ? 'reuse saves nothing against training until best'
        : `decomposition paid for after ${even} reuse${even === 1 ? '' : 's'}${s.sharedBy > 1 ? ` (shared by ${s.sharedBy} scenarios)` : ''}`;
    out.push(
      `<text class="fig6-break-even" x="${left}" y="${by + rowsH + 10}" fill="#555" font-size="10">${esc(note)}</text>`,
    );
    out.push('</g>');
    blockTop += h;
  });
  if (!scenarios.length)
    out.push(`<text x="8" y="${top + 16}" fill="#444">No scenario has finished yet.</text>`);
  out.push('</svg>');
  return out.join('');
}

/** Widths of an average character of the chart's 11 px font (regular, bold), for wrapping. */
const CHAR_PX = 6.2;
const BOLD_CHAR_PX = 6.8;

/**
 * `s` in lines of at most `n` characters, broken at spaces (a longer word is cut), at most
 * `max` lines: the last one ends with an ellipsis when text is left over (the full text stays
 * in the element's title).
 */
export function wrap(s: string, n: number, max: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (let word of s.split(' ')) {
    while (word.length > n) {
      if (cur) lines.push(cur);
      lines.push(word.slice(0, n));
      word = word.slice(n);
      cur = '';
    }
    if (!cur) cur = word;
    else if (cur.length + 1 + word.length <= n) cur += ` ${word}`;
    else {
      lines.push(cur);
      cur = word;
    }
  }
  if (cur || !lines.length) lines.push(cur);
  if (lines.length <= max) return lines;
  const kept = lines.slice(0, max);
  const last = kept[max - 1]!;
  kept[max - 1] = `${last.length >= n ? last.slice(0, n - 1) : last}…`;
  return kept;
}
