import { describe, expect, test } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import type { ScenarioView } from '../../../core/common/api.ts';
import { breakEven, figure6Scenarios, figure6Svg, logDomain, wrap } from '../../../core/common/figure6.ts';
import { scenarioView } from '../lib/test-helpers.ts';
import Figure6Chart from './Figure6Chart.svelte';

/** A measured scenario whose figures span 1e-5 to 1e-3 kg. */
const view = (over: Partial<ScenarioView> = {}): ScenarioView =>
  scenarioView({
    classes: ['cat', 'dog'],
    ma: 0.98,
    tma: 0.97,
    testImages: 200,
    co2eRatioFixed: 100,
    co2eRatioBest: 40,
    co2eRatioFixedWithDecomposition: 10,
    co2eRatioBestWithDecomposition: 4,
    reuseCo2eKg: 1e-5,
    decompositionCo2eKg: 2e-4,
    baselineFixedCo2eKg: 1e-3,
    baselineBestCo2eKg: 4e-4,
    estimated: false,
    ...over,
  });

const bars = (el: Element) => [...el.querySelectorAll('rect.fig6-bar')] as SVGRectElement[];
const widths = (el: Element, bar: string) =>
  bars(el)
    .filter((b) => b.dataset.bar === bar)
    .map((b) => Number(b.getAttribute('width')));

/**
 * Asserts the axis's tick labels are plain numbers or powers of ten (no unit of their own, no
 * "e-7"), the top one labelled, and that neighbours (centred on their ticks, 6.2 px a
 * character) leave room between them; returns how many there are.
 */
function expectReadableTicks(el: Element): number {
  const ticks = [...el.querySelectorAll('text.fig6-tick')];
  const labels = ticks.map((t) => t.textContent!);
  expect(labels.length).toBeGreaterThan(2);
  for (const l of labels) expect(l).toMatch(/^(\d+(\.\d+)?|10⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/);
  expect(labels.at(-1)).toBe('1000');
  const xs = ticks.map((t) => Number(t.getAttribute('x')));
  for (let i = 1; i < ticks.length; i++) {
    const half = ([...labels[i]!].length + [...labels[i - 1]!].length) * 3.1;
    expect(xs[i]! - xs[i - 1]!).toBeGreaterThan(half + 4);
  }
  return ticks.length;
}

describe('Figure 6 chart', () => {
  test('four bars per scenario on a log axis: a 10x larger figure is one decade longer', () => {
    render(Figure6Chart, {
      rows: [view(), view({ classes: ['ship', 'truck'], reuseCo2eKg: 1e-4, decompositionCo2eKg: 3e-4 })],
    });
    const fig = screen.getByTestId('figure6');
    expect(bars(fig)).toHaveLength(8);
    // Decade ticks from 1e-5 to 1e-3 kg, in grams (the largest bar is 1 g): three grid lines.
    const ticks = [...fig.querySelectorAll('text.fig6-tick')].map((t) => t.textContent);
    expect(ticks).toEqual(['0.01', '0.1', '1']);
    expect(fig.querySelector('text.fig6-unit')?.textContent).toMatch(/^CO2e in g, log scale/);
    const [reuseA, reuseB] = widths(fig, 'reuseKg');
    const [fixedA] = widths(fig, 'baselineFixedKg');
    // 1e-5 sits at the axis origin (1 px minimum), 1e-4 half way, 1e-3 at the end.
    expect(reuseA).toBe(1);
    expect(reuseB! * 2).toBeCloseTo(fixedA!, 0);
    // Each side's accuracy is written beside its bars.
    expect(fig.textContent).toContain('modules: MA 98.0%');
    expect(fig.textContent).toContain('from scratch: TMA 97.0%');
  });

  test('one unit per chart: the header, the axis and every bar say the same unit, and tick labels never overlap', () => {
    // Twelve decades apart (a reuse measured near zero beside a long training), the case whose
    // labels ran into each other in mixed units ("1.00e-7 mg 0.0000100 mg").
    const spread = view({
      reuseCo2eKg: 1e-13,
      decompositionCo2eKg: 1e-11,
      baselineFixedCo2eKg: 0.2,
      baselineBestCo2eKg: 0.05,
    });
    render(Figure6Chart, { rows: [spread] });
    const fig = screen.getByTestId('figure6');
    // The largest bar is 0.2 kg: the chart reads in grams.
    expect(fig.querySelector('text.fig6-unit')?.textContent).toMatch(/^CO2e in g, log scale/);
    expect(fig.querySelector('text.fig6-axis')?.textContent).toBe('g CO2e');
    const values = [...fig.querySelectorAll('text.fig6-value')].map((t) => t.textContent!);
    expect(values).toEqual(['200 g', '50 g', '1.00×10⁻¹⁰ g', '1.01×10⁻⁸ g']);
    for (const b of bars(fig)) expect(b.querySelector('title')?.textContent).toMatch(/ g$/);
    expectReadableTicks(fig);
    // On a narrow chart only some decades are labelled (every one keeps its grid line).
    const narrow = new DOMParser().parseFromString(
      figure6Svg(figure6Scenarios([spread]), { width: 520 }),
      'image/svg+xml',
    ).documentElement;
    const labelled = expectReadableTicks(narrow);
    expect(labelled).toBeLessThan(narrow.querySelectorAll('line.fig6-grid').length);
  });

  test('a tampered figure cannot add attributes: the SVG file stays a chart when opened alone', () => {
    // Rows are read back from the store and from files; a string where a number belongs.
    const evil = '1" onmouseover="alert(1)' as unknown as number;
    const svg = figure6Svg(figure6Scenarios([view({ reuseCo2eKg: evil, baselineBestCo2eKg: evil })]));
    const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
    expect(doc.querySelector('parsererror')).toBeNull();
    for (const el of doc.querySelectorAll('*'))
      for (const a of el.getAttributeNames()) expect(a.startsWith('on'), `${el.tagName} ${a}`).toBe(false);
    for (const b of doc.querySelectorAll('rect.fig6-bar'))
      expect(b.getAttributeNames().sort()).toEqual([
        'class',
        'data-bar',
        'data-kg',
        'fill',
        'height',
        'width',
        'x',
        'y',
      ]);
  });

  test('estimated figures are hatched; measured ones are not', () => {
    const { container } = render(Figure6Chart, {
      rows: [view(), view({ classes: ['a', 'b'], estimated: true })],
    });
    const hatched = container.querySelectorAll('rect.fig6-estimate');
    expect(hatched).toHaveLength(4);
    for (const h of hatched) expect(h.closest('g.fig6-scenario')?.getAttribute('data-index')).toBe('1');
    expect(container.querySelector('rect[data-bar="reuseKg"] title')?.textContent).not.toContain('estimated');
  });

  test('a baseline still improving, or modules well below it, carries a visible warning', () => {
    render(Figure6Chart, {
      rows: [
        view({ baselineConverged: false }),
        view({ classes: ['x', 'y'], ma: 0.8, tma: 0.95 }),
        view({ classes: ['ok', 'fine'] }),
      ],
    });
    const items = screen.getAllByRole('listitem').map((li) => li.textContent);
    expect(items).toHaveLength(2);
    expect(items[0]).toMatch(/cat \+ dog: baseline still improving/);
    expect(items[1]).toMatch(/x \+ y: modules 15\.0 points below the baseline/);
    expect(screen.getByTestId('figure6').querySelectorAll('text.fig6-warning')).toHaveLength(2);
  });

  test('a side that measured no energy above idle is flagged: its ratio means nothing', () => {
    render(Figure6Chart, { rows: [view({ reuseCo2eKg: 0 }), view({ classes: ['b', 'c'] })] });
    const items = screen.getAllByRole('listitem').map((li) => li.textContent);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatch(/cat \+ dog: no energy above idle measured for the reuse side/);
  });
  test('process attribution: a side below its floor and a crowded side are flagged; the chart says how energy was attributed', () => {
    render(Figure6Chart, {
      rows: [
        view({ attribution: 'process', reuseBelowFloor: true }),
        view({ classes: ['b', 'c'], attribution: 'process', crowdedSides: ['baseline'] }),
      ],
    });
    const items = screen.getAllByRole('listitem').map((li) => li.textContent);
    expect(items).toEqual([
      expect.stringMatching(/cat \+ dog: the reuse side drew less than the noise floor: no ratio/),
      expect.stringMatching(
        /b \+ c: the baseline ran on a crowded machine \(under 25% of its busy CPU time\)/,
      ),
    ]);
    expect(screen.getByTestId('figure6').querySelector('text.fig6-unit')?.textContent).toMatch(
      /Energy attributed per process/,
    );
  });
});

describe('Figure 6 chart: labels and notes', () => {
  test('a long scenario name and its warning are drawn in full on several lines, none under the bars', () => {
    const classes = Array.from({ length: 10 }, (_, k) => `shapes 32x32:class-number-${k}`);
    render(Figure6Chart, {
      rows: [view({ scenario: 'replace', kind: 'inter', classes, baselineConverged: false, top1: 0.5 })],
    });
    const fig = screen.getByTestId('figure6');
    const label = fig.querySelector('text.fig6-label')!;
    const lines = [...label.querySelectorAll('tspan')].map((t) => t.textContent!);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join(' ')).toBe(`replace (inter): ${classes.join(' + ')}`);
    const warning = fig.querySelector('text.fig6-warning')!;
    const notes = [...warning.querySelectorAll('tspan')].map((t) => t.textContent!);
    expect(notes.join(' ')).toBe(
      '⚠ baseline still improving when it stopped; modules 47.0 points below the baseline',
    );
    // The left column's lines fit before the bars start (at most 44 characters of 6.2 px).
    for (const n of notes) expect(n.length).toBeLessThanOrEqual(44);
    // The bars start below the name's last line.
    const lastLine = Number(label.getAttribute('y')) + 13 * (lines.length - 1);
    for (const b of bars(fig)) expect(Number(b.getAttribute('y'))).toBeGreaterThan(lastLine);
  });

  test('wrap breaks at spaces, cuts a word longer than a line, and ends with an ellipsis past its lines', () => {
    expect(wrap('a bb ccc dddd', 6, 5)).toEqual(['a bb', 'ccc', 'dddd']);
    expect(wrap('abcdefghij', 4, 5)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrap('one two three four', 8, 2)).toEqual(['one two', 'three…']);
    expect(wrap('', 8, 2)).toEqual(['']);
  });

  test('class names are text, never markup', () => {
    const { container } = render(Figure6Chart, {
      rows: [view({ classes: ['<img src=x onerror=alert(1)>', 'b'] })],
    });
    expect(container.querySelector('img')).toBeNull();
    expect(container.textContent).toContain('<img src=x');
  });

  test('the break-even note says after how many reuses the decomposition has paid for itself', () => {
    // Saves 4e-4 - 1e-5 = 3.9e-4 per reuse; the decomposition cost 2e-4: paid after one reuse.
    expect(breakEven({ baselineBestKg: 4e-4, reuseKg: 1e-5 }, 2e-4)).toBe(1);
    expect(breakEven({ baselineBestKg: 2e-4, reuseKg: 1e-4 }, 1e-3)).toBe(10);
    expect(breakEven({ baselineBestKg: 1e-4, reuseKg: 2e-4 }, 1e-3)).toBeNull();
    render(Figure6Chart, { rows: [view()] });
    expect(screen.getByTestId('figure6').querySelector('text.fig6-break-even')?.textContent).toBe(
      'decomposition paid for after 1 reuse',
    );
  });

  test('scenarios of one decomposition share its cost', () => {
    const s = figure6Scenarios([view(), view({ classes: ['a', 'b'] }), view({ decompositionCo2eKg: 9e-4 })]);
    expect(s.map((x) => x.sharedBy)).toEqual([2, 2, 1]);
    expect(s[0]!.decompositionShareKg).toBeCloseTo(1e-4, 12);
    expect(s[2]!.decompositionShareKg).toBeCloseTo(9e-4, 12);
    expect(logDomain([0, 3e-5, 2e-2])).toEqual([-5, -1]);
  });
});
