import { describe, expect, test } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import type { ScenarioView } from '../../../core/common/api.ts';
import { breakEven, figure6Scenarios, logDomain, wrap } from '../../../core/common/figure6.ts';
import Figure6Chart from './Figure6Chart.svelte';

function view(over: Partial<ScenarioView> = {}): ScenarioView {
  return {
    scenario: 'reuse',
    kind: 'intra',
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
  };
}

const bars = (el: Element) => [...el.querySelectorAll('rect.fig6-bar')] as SVGRectElement[];
const widths = (el: Element, bar: string) =>
  bars(el)
    .filter((b) => b.dataset.bar === bar)
    .map((b) => Number(b.getAttribute('width')));

describe('Figure 6 chart', () => {
  test('four bars per scenario on a log axis: a 10x larger figure is one decade longer', () => {
    render(Figure6Chart, {
      rows: [view(), view({ classes: ['ship', 'truck'], reuseCo2eKg: 1e-4, decompositionCo2eKg: 3e-4 })],
    });
    const fig = screen.getByTestId('figure6');
    expect(bars(fig)).toHaveLength(8);
    // Decade ticks from 1e-5 to 1e-3 kg: three grid lines, equally spaced.
    const ticks = [...fig.querySelectorAll('text.fig6-tick')].map((t) => t.textContent);
    expect(ticks).toEqual(['10.0 mg', '100 mg', '1.00 g']);
    const [reuseA, reuseB] = widths(fig, 'reuseKg');
    const [fixedA] = widths(fig, 'baselineFixedKg');
    // 1e-5 sits at the axis origin (1 px minimum), 1e-4 half way, 1e-3 at the end.
    expect(reuseA).toBe(1);
    expect(reuseB! * 2).toBeCloseTo(fixedA!, 0);
    // Each side's accuracy is written beside its bars.
    expect(fig.textContent).toContain('modules: MA 98.0%');
    expect(fig.textContent).toContain('from scratch: TMA 97.0%');
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
