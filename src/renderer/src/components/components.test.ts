import { describe, expect, test } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import ProgressBar from './ProgressBar.svelte';
import JobPanel from './JobPanel.svelte';
import Home from '../pages/Home.svelte';
import { JobsStore } from '../lib/jobs.svelte.ts';
import type { ExperimentDetailView } from '../../../core/common/api.ts';
import {
  datasetInfo,
  experimentSummary,
  fakeApi,
  job,
  runSummary,
  scenarioView,
} from '../lib/test-helpers.ts';

describe('ProgressBar', () => {
  test('is an accessible progressbar with its value', () => {
    render(ProgressBar, { fraction: 0.42, label: 'Training' });
    const bar = screen.getByRole('progressbar', { name: 'Training' });
    expect(bar.getAttribute('aria-valuenow')).toBe('42');
  });

  test('says "working" when the fraction is unknown', () => {
    render(ProgressBar, { fraction: null, label: 'Loading' });
    expect(screen.getByRole('progressbar').getAttribute('aria-valuetext')).toBe('working');
  });
});

describe('JobPanel', () => {
  test('shows progress and ETA, and cancels through the API', async () => {
    const api = fakeApi();
    render(JobPanel, { job: job(), api });
    expect(screen.getByRole('progressbar')).toBeTruthy();
    expect(screen.getByTestId('eta').textContent).toMatch(/42 s left/);
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(api.calls.find((c) => c.method === 'cancelJob')?.args).toEqual(['job-1']);
  });

  test('a failed job shows its error as an alert', () => {
    render(JobPanel, {
      job: job({ status: 'failed', error: 'No such folder. Check the path.' }),
      api: fakeApi(),
    });
    expect(screen.getByRole('alert').textContent).toBe('No such folder. Check the path.');
    expect(screen.queryByRole('progressbar')).toBeNull();
  });
});

describe('Home', () => {
  test("the demo runs on the embedded shapes, or on the dataset picked from the machine's", async () => {
    const api = fakeApi({
      listDatasets: async () => [
        datasetInfo({ id: 'synthetic:shapes:32', name: 'shapes 32x32', kind: 'synthetic' }),
        datasetInfo({ id: 'fashion-mnist', name: 'Fashion-MNIST', kind: 'mnist', found: true }),
      ],
    });
    render(Home, { api, jobs: new JobsStore(api) });
    const pick = await screen.findByTestId('demo-dataset');
    // The embedded shapes is the default, not listed twice.
    expect([...pick.querySelectorAll('option')].map((o) => o.textContent)).toEqual([
      'embedded shapes (default, no download)',
      'Fashion-MNIST (found on this machine)',
    ]);
    await fireEvent.click(screen.getByTestId('run-demo'));
    await fireEvent.change(pick, { target: { value: 'fashion-mnist' } });
    await fireEvent.click(screen.getByTestId('run-demo'));
    await waitFor(() =>
      expect(api.calls.filter((c) => c.method === 'runDemo').map((c) => c.args)).toEqual([
        [{}],
        [{ dataset: 'fashion-mnist' }],
      ]),
    );
  });

  test('lists recent runs with their status and energy totals', async () => {
    const api = fakeApi({
      listRuns: async () => [
        {
          id: 3,
          kind: 'train',
          label: 'ResNet-8 on shapes',
          experimentId: 1,
          experimentKind: 'training' as const,
          role: 'model' as const,
          scenario: null,
          status: 'interrupted',
          error: null,
          params: {},
          startedAt: '2026-01-01T00:00:00.000Z',
          endedAt: null,
          seconds: 12,
          backend: 'wasm',
          epochsDone: 1,
          bestEpoch: 1,
          result: null,
          energy: null,
          energyFixedEpochs: null,
          energyUntilBest: null,
        },
      ],
      getEnergySummary: async () => ({
        totals: { kwh: 0.5, co2eKg: 0.2, co2eLbs: 0.45, estimatedRuns: 1, runs: 1 },
        runs: [],
      }),
    });
    const jobs = new JobsStore(api);
    render(Home, { api, jobs });
    await waitFor(() => expect(screen.getByTestId('recent-runs').textContent).toMatch(/Interrupted/));
    expect(screen.getByTestId('totals').textContent).toMatch(/0\.500 kWh/);
    expect(screen.getByText(/estimated/)).toBeTruthy();
  });

  test('the demo button starts the demo and shows its job', async () => {
    const api = fakeApi();
    const jobs = new JobsStore(api);
    render(Home, { api, jobs });
    await fireEvent.click(screen.getByTestId('run-demo'));
    await waitFor(() => expect(screen.getByTestId('job')).toBeTruthy());
    expect(api.calls.some((c) => c.method === 'runDemo')).toBe(true);
    expect((screen.getByTestId('run-demo') as HTMLButtonElement).disabled).toBe(true);
  });

  test("the latest demo's Table 1 and Figure 6 show from the store, whichever shell ran it", async () => {
    // A demo run by `decomposer demo` (no job in this app), after an older one.
    const summary = (id: number) =>
      experimentSummary({
        id,
        label: `Demo #${id}: ResNet-20 on shapes`,
        endedAt: '2026-01-01T00:21:40.000Z',
      });
    const latest: ExperimentDetailView = {
      ...summary(7),
      params: {},
      machines: [],
      runs: [
        runSummary({ id: 30, experimentId: 7, role: 'model' }),
        runSummary({
          id: 31,
          kind: 'decompose',
          experimentId: 7,
          role: 'decomposition',
          result: {
            test_images: 100,
            model: { top1: 0.62, top5: 0.99 },
            decomposition: [{ approach: 'CI+TI+MC', top1: 0.615, top5: 0.99, ji: 0.97, ji_modules: 0.99 }],
          },
        }),
      ],
      scenarios: [
        scenarioView(),
        scenarioView({ scenario: 'replace', kind: 'inter', classes: ['a', 'b'], top1: 0.6 }),
      ],
    };
    const api = fakeApi({
      listExperiments: async () => [summary(7), { ...summary(3), kind: 'grid' as const }, summary(2)],
      getExperiment: async (id) => (id === 7 ? latest : Promise.reject(new Error(`not ${id}`))),
    });
    render(Home, { api, jobs: new JobsStore(api) });
    const shown = await screen.findByTestId('last-demo');
    expect(api.calls.filter((c) => c.method === 'getExperiment').map((c) => c.args)).toEqual([[7]]);
    expect(shown.querySelector('a')?.getAttribute('href')).toBe('#/experiment/7');
    expect(screen.getByTestId('figure6').querySelectorAll('g.fig6-scenario')).toHaveLength(2);
    expect(screen.getByTestId('table1').textContent).toMatch(/CI\+TI\+MC/);
    // No figure that drifts in the text: the last demo's own duration instead.
    const intro = screen.getByRole('heading', { name: 'Demo' }).nextElementSibling!.textContent!;
    expect(intro).not.toMatch(/about 20 minutes/);
    expect(intro).toMatch(/takes a while \(the last demo here took 21 min 40 s\); Table 1/);
  });

  test('an API failure reads as a message, not a stack trace', async () => {
    const api = fakeApi({
      listRuns: async () => {
        throw new Error('The Decomposer server is not reachable. Check that it runs, then reload.');
      },
    });
    render(Home, { api, jobs: new JobsStore(api) });
    await waitFor(() => expect(screen.getByRole('alert').textContent).toMatch(/not reachable/));
  });
});
