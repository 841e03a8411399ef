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
});
