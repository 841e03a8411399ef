import { describe, expect, test } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import type { ExperimentDetailView } from '../../../core/common/api.ts';
import { JobsStore } from '../lib/jobs.svelte.ts';
import { roleText, scenariosOf } from '../lib/experiments.ts';
import { experimentSummary, fakeApi, job, runSummary, scenarioView } from '../lib/test-helpers.ts';
import Compare from './Compare.svelte';
import Experiment from './Experiment.svelte';

const scenario = scenarioView;
const summary = experimentSummary;

function detail(over: Partial<ExperimentDetailView> = {}): ExperimentDetailView {
  return {
    ...summary(),
    params: {},
    runs: [
      runSummary({ id: 10, experimentId: 4, role: 'model' }),
      runSummary({ id: 11, kind: 'decompose', experimentId: 4, role: 'decomposition' }),
      runSummary({ id: 12, experimentId: 4, role: 'baseline', scenario: 'reuse:plus|ring' }),
    ],
    scenarios: [scenario(), scenario({ scenario: 'replace', kind: 'inter', classes: ['a', 'b'], top1: 0.8 })],
    machines: [{ hostname: 'here', cpuModel: 'Intel(R) Xeon(R) Processor', runs: 3 }],
    ...over,
  };
}

const jobsFor = (api: ReturnType<typeof fakeApi>) => new JobsStore(api);

describe('experiments', () => {
  test('a run says its role in words, with the scenario it serves', () => {
    expect(roleText({ role: 'baseline', scenario: 'reuse:a|b' })).toBe(
      'baseline (trained from scratch): reuse:a|b',
    );
    expect(roleText({ role: 'option', scenario: 'option 3' })).toBe('option 3');
    expect(roleText({ role: null, scenario: null })).toBe('—');
  });

  test('the experiment page shows its runs in their roles and Figure 6 of its scenarios', async () => {
    const api = fakeApi({ getExperiment: async () => detail() });
    render(Experiment, { api, jobs: jobsFor(api), id: 4 });
    await screen.findByRole('heading', { name: 'Demo: ResNet-8 on shapes' });
    const runs = screen.getByTestId('experiment-runs');
    expect(runs.textContent).toContain('baseline (trained from scratch): reuse:plus|ring');
    expect(runs.querySelector('a[href="#/run/12"]')).toBeTruthy();
    const fig = screen.getByTestId('figure6');
    expect(fig.querySelectorAll('rect.fig6-bar')).toHaveLength(8);
    expect(fig.querySelectorAll('rect.fig6-estimate').length).toBeGreaterThan(0);
    expect(api.calls.find((c) => c.method === 'getExperiment')?.args).toEqual([4]);
  });

  test('an unknown experiment shows the error, with a way to try again', async () => {
    const api = fakeApi({
      getExperiment: async () => {
        throw new Error('There is no experiment 9. Choose one from the list.');
      },
    });
    render(Experiment, { api, jobs: jobsFor(api), id: 9 });
    expect((await screen.findByRole('alert')).textContent).toMatch(/no experiment 9/);
    expect(screen.getByRole('button', { name: 'Try again' })).toBeTruthy();
  });

  test('Compare offers experiments with scenarios, and draws the picked scenarios of several side by side', async () => {
    const other = detail({
      id: 5,
      label: 'reuse grid on shapes',
      kind: 'grid',
      scenarios: [scenario({ classes: ['x', 'y'] })],
    });
    const api = fakeApi({
      listExperiments: async () => [
        summary(),
        summary({ id: 5, label: 'reuse grid on shapes', kind: 'grid' }),
        summary({ id: 6, label: 'train ResNet-20', kind: 'training' }),
      ],
      getExperiment: async (id) => (id === 4 ? detail() : other),
    });
    render(Compare, { api, jobs: jobsFor(api) });
    const box = await screen.findByTestId('compare-experiments');
    // A training alone has nothing to compare.
    expect(box.textContent).not.toContain('train ResNet-20');
    // It opens on the latest experiment, ticked and drawn.
    const latest = screen.getByRole('checkbox', { name: /#5 reuse grid/ }) as HTMLInputElement;
    await waitFor(() => expect(latest.checked).toBe(true));
    expect((screen.getByRole('checkbox', { name: /#4 Demo/ }) as HTMLInputElement).checked).toBe(false);
    await waitFor(() =>
      expect(screen.getByTestId('figure6').querySelectorAll('g.fig6-scenario')).toHaveLength(1),
    );
    await fireEvent.click(screen.getByRole('checkbox', { name: /#4 Demo/ }));
    await waitFor(() =>
      expect(screen.getByTestId('figure6').querySelectorAll('g.fig6-scenario')).toHaveLength(3),
    );
    // Each scenario says which experiment it came from.
    expect(screen.getByTestId('figure6').textContent).toContain('#5 reuse (intra): x + y');
    // Leaving one scenario out removes its bars.
    await fireEvent.click(screen.getByRole('checkbox', { name: /#4: replace \(inter\) a \+ b/ }));
    await waitFor(() =>
      expect(screen.getByTestId('figure6').querySelectorAll('g.fig6-scenario')).toHaveLength(2),
    );
  });

  test('Compare says when a picked experiment ran on several machines, and on which', async () => {
    const merged = detail({
      id: 5,
      label: 'reuse grid on shapes',
      kind: 'grid',
      machines: [
        { hostname: 'node-a', cpuModel: 'AMD EPYC 7763', runs: 4 },
        { hostname: 'node-b', cpuModel: 'Intel(R) Xeon(R) Gold 6338', runs: 2 },
      ],
    });
    const api = fakeApi({
      listExperiments: async () => [
        summary(),
        summary({ id: 5, label: 'reuse grid on shapes', kind: 'grid' }),
      ],
      getExperiment: async (id) => (id === 4 ? detail() : merged),
    });
    render(Compare, { api, jobs: jobsFor(api) });
    const note = await screen.findByTestId('compare-machines');
    expect(note.textContent?.replace(/\s+/g, ' ')).toMatch(
      /#5: runs from 2 machines: node-a \(AMD EPYC 7763, 4 runs\), node-b \(Intel\(R\) Xeon\(R\) Gold 6338, 2 runs\)/,
    );
    // An experiment of one machine adds no note.
    await fireEvent.click(screen.getByRole('checkbox', { name: /#4 Demo/ }));
    await waitFor(() => expect(screen.getAllByTestId('compare-machines')).toHaveLength(1));
  });

  test('Compare does not tick the latest experiment again once the user has unticked it', async () => {
    const api = fakeApi({ listExperiments: async () => [summary()], getExperiment: async () => detail() });
    const jobs = jobsFor(api);
    await jobs.start();
    render(Compare, { api, jobs });
    const box = (await screen.findByRole('checkbox', { name: /#4 Demo/ })) as HTMLInputElement;
    await waitFor(() => expect(box.checked).toBe(true));
    await fireEvent.click(box);
    expect(box.checked).toBe(false);
    // A job ending reads the list again: the pick stays the user's.
    api.emit({
      jobId: 'j',
      progress: { stage: 'done', fraction: 1 },
      payload: { type: 'status', job: job({ id: 'j', status: 'finished' }) },
    });
    await waitFor(() => expect(jobs.finishedCount).toBe(1));
    await waitFor(() => expect(api.calls.filter((c) => c.method === 'listExperiments')).toHaveLength(2));
    await new Promise((r) => setTimeout(r, 20));
    expect(box.checked).toBe(false);
    expect(screen.queryByTestId('figure6')).toBeNull();
  });

  test('scenariosOf keys every scenario by experiment and position', () => {
    expect(scenariosOf([detail(), detail({ id: 5 })]).map((s) => s.key)).toEqual([
      '4:0',
      '4:1',
      '5:0',
      '5:1',
    ]);
  });
});
