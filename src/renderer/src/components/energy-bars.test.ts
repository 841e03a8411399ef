import { describe, expect, test } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import type { EnergySummary } from '../../../core/common/api.ts';
import EnergyBars from './EnergyBars.svelte';

const row = (runId: number, measured: boolean, series: string, untilBest: boolean) => ({
  runId,
  kind: series === 'training from scratch' ? 'train' : series,
  label: `run ${runId}`,
  status: 'finished' as const,
  series,
  measured,
  source: measured ? 'rapl' : 'estimate',
  kwh: 2e-6 * runId,
  co2eKg: 1e-6 * runId,
  fixedEpochs: null,
  untilBest: untilBest ? { kwh: 1e-6 * runId, co2eKg: 5e-7 * runId } : null,
});

describe('energy bars per run', () => {
  test('an estimated run is marked once, over its tallest bar; a measured run is not marked', () => {
    const summary = {
      totals: { kwh: 0, co2eKg: 0, co2eLbs: 0, estimatedRuns: 2, runs: 3 },
      runs: [
        row(1, false, 'training from scratch', true),
        row(2, true, 'training from scratch', true),
        row(3, false, 'decompose', false),
      ],
    } as EnergySummary;
    render(EnergyBars, { summary });
    const chart = screen.getByTestId('energy-chart');
    // Two charts (CO2e, kWh), each with one "est." per estimated run: runs 1 and 3.
    const marks = [...chart.querySelectorAll('text')].filter((t) => t.textContent === 'est.');
    expect(marks).toHaveLength(4);
  });

  test('runs in number order (#2 before #10), and each chart in the unit its bars read best in', () => {
    const summary = {
      totals: { kwh: 0, co2eKg: 0, co2eLbs: 0, estimatedRuns: 0, runs: 4 },
      runs: [1, 2, 10, 11].map((id) => row(id, true, 'training from scratch', false)),
    } as EnergySummary;
    render(EnergyBars, { summary });
    const chart = screen.getByTestId('energy-chart');
    const [co2e, kwh] = [...chart.querySelectorAll('figure')];
    const runs = [...co2e!.querySelectorAll('[aria-label="fx-axis tick label"] text')].map(
      (t) => t.textContent,
    );
    expect(runs).toEqual(['#1', '#2', '#10', '#11']);
    // Up to 11 mg of CO2e and 22 mWh: read in mg and mWh, not as 0.00001 kg.
    expect(co2e!.getAttribute('aria-label')).toBe('CO2e per run, mg');
    expect(kwh!.getAttribute('aria-label')).toBe('Energy per run, mWh');
    expect(co2e!.textContent).toContain('mg CO2e');
    const ticks = [...co2e!.querySelectorAll('[aria-label="y-axis tick label"] text')].map(
      (t) => t.textContent!,
    );
    expect(ticks.length).toBeGreaterThan(2);
    expect(Math.max(...ticks.map(Number))).toBeGreaterThanOrEqual(10);
    for (const t of ticks) expect(t).toMatch(/^\d+(\.\d+)?$/);
  });
});
