import { afterEach, describe, expect, test, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import type { DecomposerApi, RunDetailView } from '../../../core/common/api.ts';
import { UserError } from '../../../core/common/errors.ts';
import App from '../App.svelte';
import Run from './Run.svelte';
import { JobsStore } from '../lib/jobs.svelte.ts';
import {
  carriedOf,
  entry,
  estimateLevel,
  kindText,
  paramEntries,
  resultEntries,
  table1Of,
} from '../lib/run.ts';
import {
  energyFigure,
  energySummary,
  fakeApi,
  job,
  runDetail,
  runSummary,
  type FakeApi,
} from '../lib/test-helpers.ts';

// uPlot draws on a canvas, which jsdom lacks: a stand-in that records the data it was given.
vi.mock('uplot', () => ({
  default: class {
    data: unknown;
    constructor(_opts: unknown, data: unknown, el: HTMLElement) {
      this.data = data;
      el.append(document.createElement('canvas'));
    }
    setData(data: unknown): void {
      this.data = data;
    }
    destroy(): void {}
  },
}));

/** An element's text with runs of white space as one space. */
const text = (testid: string) => (screen.getByTestId(testid).textContent ?? '').replace(/\s+/g, ' ');

async function show(run: RunDetailView, overrides: Partial<DecomposerApi> = {}): Promise<FakeApi> {
  const api = fakeApi({ getRun: async () => run, ...overrides });
  const jobs = new JobsStore(api);
  render(Run, { api, jobs, id: run.id, back: { href: '#/energy', title: 'Energy' } });
  await screen.findByTestId('run');
  return api;
}

describe('the run page', () => {
  test('a training run shows its facts, epochs, energy figures and both charts', async () => {
    const api = await show(runDetail());
    expect(api.calls.find((c) => c.method === 'getRun')?.args).toEqual([7]);
    expect(screen.getByRole('heading', { level: 2, name: /Run #7: ResNet-8 on shapes/ })).toBeTruthy();
    const facts = text('run-facts');
    expect(facts).toMatch(/Training from scratch/);
    expect(facts).toMatch(/Finished/);
    expect(facts).toMatch(/30 s/);
    expect(facts).toMatch(/wasm/);
    expect(facts).toMatch(/2 \(best: epoch 2\)/);

    const epochs = within(screen.getByTestId('run-epochs')).getAllByRole('row');
    expect(epochs).toHaveLength(3);
    expect(epochs[2]!.textContent).toMatch(/2best1\.210\s*52\.0%\s*60\.0%\s*15 s/);
    expect(screen.getByTestId('epoch-chart').querySelectorAll('svg').length).toBeGreaterThanOrEqual(2);
    expect(screen.getByTestId('power-chart')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Export JSON' })).toBeTruthy();
    expect(screen.getAllByRole('button', { name: 'Save PNG' }).length).toBeGreaterThanOrEqual(3);

    const source = text('run-energy-source');
    expect(source).toMatch(/rapl/);
    expect(source).toMatch(/measured/);
    expect(screen.queryByTestId('run-estimate')).toBeNull();
    const rows = within(screen.getByTestId('run-energy-table')).getAllByRole('row');
    expect(rows.map((r) => r.querySelector('th')?.textContent)).toEqual([
      'Figure',
      'Whole run',
      'Fixed epochs',
      'Until best epoch',
    ]);
    expect(rows[1]!.textContent).toMatch(/1\.84e-4.*7\.97e-5.*1\.76e-4.*12\.5 W.*1\.5 W.*—.*8\.0 W/);
    const energy = text('run-energy');
    expect(energy).toMatch(/PUE\s+1\.58/);
    expect(energy).toMatch(/0\.954 lbs CO2e\/kWh \(0\.433 kg\)/);
    const counters = within(screen.getByTestId('run-power-sources')).getAllByRole('listitem');
    expect(counters.map((li) => li.textContent)).toEqual(runDetail().powerSources);

    const params = text('run-params');
    expect(params).toMatch(/depth\s*8/);
    expect(params).toMatch(/augment\s*no/);
    const result = text('run-result');
    expect(result).toMatch(/Top-1 \(test\)\s*64\.0%/);
    expect(result).toMatch(/Top-5 \(test\)\s*100\.0%/);
    expect(result).not.toMatch(/Resumed/);
    expect(screen.getByTestId('run-back').getAttribute('href')).toBe('#/energy');
  });

  test('an estimated source is marked as an estimate, in the text and on the power chart', async () => {
    const e = energyFigure({ source: 'estimate' });
    await show(runDetail({ energy: e, energyFixedEpochs: e, energyUntilBest: e }));
    expect(screen.getByTestId('run-estimate').textContent).toMatch(/estimate/);
    expect(text('run-energy-source')).toMatch(/no power counter was readable/);
    expect(screen.getByText('estimated', { selector: '.badge' })).toBeTruthy();
  });

  test("the energy says how it was attributed, with the run's share of the machine", async () => {
    // 45 of the machine's 50 busy CPU seconds, the machine 50/60 busy.
    const own = energyFigure();
    await show(runDetail({ energy: own, energyFixedEpochs: own, energyUntilBest: own }));
    expect(text('run-attribution')).toMatch(
      /Attribution: process — the run's share of the machine's power above idle/,
    );
    expect(text('run-attribution')).toMatch(
      /It had 90\.0% of the machine's busy CPU time \(45\.0 CPU s\); the machine was 83\.3% busy/,
    );
    expect(screen.queryByTestId('run-crowded')).toBeNull();
    expect(screen.queryByTestId('run-below-floor')).toBeNull();
    expect(screen.getByRole('columnheader', { name: 'Idle taken off' })).toBeTruthy();
  });

  test('a crowded process figure and a machine figure below the noise floor are flagged', async () => {
    const crowded = energyFigure({ run_cpu_s: 5, busy_cpu_s: 55, capacity_cpu_s: 60 });
    await show(runDetail({ energy: crowded, energyFixedEpochs: crowded, energyUntilBest: crowded }));
    expect(text('run-crowded')).toMatch(/Crowded/);
    cleanup();
    // 0.2 mW above an idle of 17.4 W: the demo's reuse side that once gave 179,153.9x.
    const drift = energyFigure({ attribution: 'machine', cpu_w: 0.0002, dram_w: 0, idle_w: 17.4 });
    await show(runDetail({ energy: drift, energyFixedEpochs: drift, energyUntilBest: drift }));
    expect(text('run-attribution')).toMatch(
      /Attribution: machine — the whole machine's power minus the idle power/,
    );
    expect(text('run-below-floor')).toMatch(/Below the noise floor/);
    expect(screen.getByRole('columnheader', { name: 'Idle' })).toBeTruthy();
  });

  test('a resumed training says which earlier runs its energy carries, and when that is incomplete', async () => {
    const result = {
      epochs_done: 5,
      best_epoch: 4,
      top1: 0.7,
      top5: 1,
      model_dir: '/m',
      resumed_from: 3,
      energy_carried: { from_runs: [3, 4], through_epoch: 2, complete: false },
    };
    await show(runDetail({ id: 5, result }));
    const carried = text('run-carried');
    expect(carried).toMatch(/resumed after epoch 3/);
    expect(carried).toMatch(/include the energy of runs #3 and #4 through epoch 2\./);
    expect(carried).toMatch(/Incomplete: .*only 2 of the 3 epochs/);
    const links = within(screen.getByTestId('run-carried')).getAllByRole('link');
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['#/run/3', '#/run/4']);
    expect(screen.getByTestId('run-result').textContent).toMatch(/Resumed after epoch\s*3/);
  });

  test('a complete carry is not called incomplete', async () => {
    const result = { resumed_from: 2, energy_carried: { from_runs: [3], through_epoch: 2, complete: true } };
    await show(runDetail({ id: 5, result }));
    const carried = text('run-carried');
    expect(carried).toMatch(/include the energy of run #3 through epoch 2\./);
    expect(carried).not.toMatch(/Incomplete/);
  });

  test('a failed run shows its error as an alert; an interrupted one explains what happened', async () => {
    await show(
      runDetail({ status: 'failed', error: 'Out of memory. Use a smaller batch.', result: null, epochs: [] }),
    );
    expect(screen.getByRole('alert').textContent).toBe('Out of memory. Use a smaller batch.');
    expect(screen.getByText('No epoch finished.')).toBeTruthy();
    expect(screen.getByText('No result: the run did not finish.')).toBeTruthy();
    document.body.replaceChildren();

    await show(runDetail({ status: 'interrupted', error: null }));
    const note = text('run-interrupted');
    expect(note).toMatch(/stopped .* before the run ended/);
    expect(note).toMatch(/--out.*synthetic-shapes-32-r8-s1/);
  });

  test('a decomposition shows its Table 1 rows and no epoch section', async () => {
    const run = runDetail({
      id: 9,
      kind: 'decompose',
      label: 'Decompose ResNet-8 on shapes 32x32 (CI+TI+MC)',
      params: {
        experiment: 'decomposition',
        model_dir: '/m',
        dataset: 'synthetic:shapes:32',
        approaches: ['CI+TI+MC'],
      },
      result: {
        model_top1: 0.64,
        model_top5: 1,
        test_images: 50,
        decomposition: [{ approach: 'CI+TI+MC', top1: 0.6, top5: 1, ji: 0.41, seconds: 3, eval_seconds: 1 }],
        modules_dirs: ['/m/modules/9-0'],
      },
      epochs: [],
      epochsDone: 0,
      bestEpoch: null,
      energyFixedEpochs: null,
      energyUntilBest: null,
    });
    await show(run);
    const table = screen.getByTestId('table1');
    expect(within(table).getAllByRole('row')).toHaveLength(3);
    // A run recorded before module-vs-module JI was reported shows a dash for it.
    expect(table.textContent).toMatch(/CI\+TI\+MC\s*60\.0%\s*100\.0%\s*0\.410\s*—/);
    expect(screen.getByTestId('run-result').textContent).toMatch(/Model's top-1\s*64\.0%/);
    expect(screen.queryByTestId('run-epochs')).toBeNull();
    expect(screen.queryByRole('heading', { name: 'Epochs' })).toBeNull();
    expect(within(screen.getByTestId('run-energy-table')).getAllByRole('row')).toHaveLength(2);
  });
});

describe('the run page: resuming a training', () => {
  test('a cancelled training can be resumed: the job shows with its progress, then a link to its run', async () => {
    const cancelled = runDetail({ status: 'cancelled', result: null });
    const api = fakeApi({
      getRun: async () => cancelled,
      resumeTraining: async (runId) =>
        job({ id: 'job-resume', runId: null, label: `Resume ResNet-8 on shapes (run ${runId})` }),
    });
    const jobs = new JobsStore(api);
    await jobs.start();
    render(Run, { api, jobs, id: 7 });
    await screen.findByTestId('run');
    expect(text('run-resume')).toMatch(/after its last finished epoch/);
    await fireEvent.click(screen.getByRole('button', { name: 'Resume training' }));
    expect(api.calls.find((c) => c.method === 'resumeTraining')?.args).toEqual([7]);
    const panel = await screen.findByTestId('job');
    expect(panel.textContent).toMatch(/Resume ResNet-8 on shapes \(run 7\)/);
    expect(panel.textContent).toMatch(/Training epoch 1\/2/);
    expect(jobs.find('job-resume')).toBeTruthy();
    // Its run is recorded: the page links it, and no second resume is offered.
    const started = job({ id: 'job-resume', runId: 8, label: 'Resume ResNet-8 on shapes (run 7)' });
    api.emit({ jobId: 'job-resume', progress: started.progress!, payload: { type: 'status', job: started } });
    await waitFor(() => expect(screen.getByTestId('run-resumed-link').getAttribute('href')).toBe('#/run/8'));
    expect(screen.queryByRole('button', { name: 'Resume training' })).toBeNull();
  });

  test('a training continued by a later run is not offered for resuming again: the page links that run', async () => {
    const api = fakeApi({
      getRun: async () => runDetail({ status: 'cancelled', result: null, continuedBy: 9 }),
    });
    const jobs = new JobsStore(api);
    await jobs.start();
    render(Run, { api, jobs, id: 7 });
    await screen.findByTestId('run');
    expect(text('run-continued')).toMatch(/continued by run #9/);
    expect(within(screen.getByTestId('run-continued')).getByRole('link').getAttribute('href')).toBe(
      '#/run/9',
    );
    expect(screen.queryByRole('button', { name: 'Resume training' })).toBeNull();
  });

  test('resume: refused with the message and hint; disabled while another training runs', async () => {
    const api = fakeApi({
      getRun: async () => runDetail({ status: 'interrupted', result: null }),
      resumeTraining: async () => {
        throw new UserError('Run 7 is gone.', 'Start a new training instead.', 'not-found');
      },
    });
    const jobs = new JobsStore(api);
    render(Run, { api, jobs, id: 7 });
    await screen.findByTestId('run');
    expect(text('run-interrupted')).toMatch(/resume it below/);
    await fireEvent.click(screen.getByRole('button', { name: 'Resume training' }));
    await waitFor(() =>
      expect(screen.getByTestId('run-resume-error').textContent).toBe(
        'Run 7 is gone. Start a new training instead.',
      ),
    );
    jobs.add(job({ id: 'job-other', runId: 12, label: 'ResNet-20 on CIFAR-10' }));
    await waitFor(() =>
      expect((screen.getByRole('button', { name: 'Resume training' }) as HTMLButtonElement).disabled).toBe(
        true,
      ),
    );
    expect(text('run-resume')).toMatch(/Another training is running/);
  });

  test('no resume for a finished training, a wizard training or a decomposition', async () => {
    await show(runDetail());
    expect(screen.queryByRole('button', { name: 'Resume training' })).toBeNull();
    document.body.replaceChildren();
    await show(
      runDetail({
        status: 'cancelled',
        experimentKind: 'wizard',
        scenario: 'faulty demo: faulty',
      }),
    );
    expect(screen.queryByRole('button', { name: 'Resume training' })).toBeNull();
    document.body.replaceChildren();
    await show(runDetail({ status: 'cancelled', kind: 'decompose' }));
    expect(screen.queryByRole('button', { name: 'Resume training' })).toBeNull();
  });
});

describe('the run page: a missing run', () => {
  test('a missing run says so, with the hint, and can be tried again', async () => {
    const api = fakeApi({
      getRun: async (id) => {
        throw new UserError(`There is no run ${id}.`, 'Choose a run from the list.', 'no-run');
      },
    });
    render(Run, { api, jobs: new JobsStore(api), id: 99 });
    expect(screen.getByRole('status').textContent).toMatch(/Reading run #99/);
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toBe('There is no run 99. Choose a run from the list.'),
    );
    expect(screen.getByTestId('run-back').getAttribute('href')).toBe('#/home');
    await fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(api.calls.filter((c) => c.method === 'getRun')).toHaveLength(2);
  });
});

describe('opening a run', () => {
  afterEach(() => {
    window.location.hash = '';
  });

  const failed = runSummary({ id: 8, label: 'A failed one', status: 'failed', error: 'boom' });
  function appApi(): FakeApi {
    const runs = [failed, runSummary()];
    return fakeApi({
      listRuns: async () => runs,
      getEnergySummary: async () => energySummary(runs),
      getRun: async (id) => runDetail({ ...runs.find((r) => r.id === id)! }),
    });
  }

  test('from Home: the recent run is a link to its page, and Back returns to Home', async () => {
    const api = appApi();
    render(App, { api });
    const link = await screen.findByRole('link', { name: /ResNet-8 on shapes/ });
    expect(link.getAttribute('href')).toBe('#/run/7');
    await fireEvent.click(link);
    await screen.findByTestId('run');
    expect(window.location.hash).toBe('#/run/7');
    expect(api.calls.find((c) => c.method === 'getRun')?.args).toEqual([7]);
    expect(document.activeElement?.id).toBe('run-heading');
    const back = screen.getByTestId('run-back');
    expect(back.textContent).toMatch(/Back to Home/);
    await fireEvent.click(back);
    await screen.findByTestId('recent-runs');
  });

  test('from Energy: a failed run opens with its error, and Back returns to Energy', async () => {
    window.location.hash = '#/energy';
    const api = appApi();
    render(App, { api });
    const table = await screen.findByTestId('energy-table');
    await fireEvent.click(within(table).getByRole('link', { name: 'A failed one' }));
    await screen.findByTestId('run');
    expect(screen.getByTestId('run-error').textContent).toBe('boom');
    expect(screen.getByTestId('run-back').getAttribute('href')).toBe('#/energy');
  });

  test('a run URL opens the run directly (it survives a reload)', async () => {
    window.location.hash = '#/run/8';
    const api = appApi();
    render(App, { api });
    await screen.findByTestId('run');
    expect(screen.getByTestId('run-status').textContent).toBe('Failed');
    expect(screen.getByTestId('run-back').getAttribute('href')).toBe('#/home');
  });
});

describe('run page helpers', () => {
  test('estimate levels', () => {
    expect(estimateLevel('estimate')).toBe('estimated');
    expect(estimateLevel('estimate+nvidia-smi')).toBe('estimated');
    expect(estimateLevel('none')).toBe('estimated');
    expect(estimateLevel('rapl+estimate')).toBe('partly');
    expect(estimateLevel('rapl+nvidia-smi')).toBe('measured');
  });

  test('kinds in words', () => {
    const run = { role: null, scenario: null, experimentKind: null };
    expect(
      kindText({ ...run, kind: 'train', role: 'baseline', scenario: 'a|b', experimentKind: 'grid' }),
    ).toBe("Training from scratch (a scenario's train-from-scratch baseline (a|b))");
    expect(kindText({ ...run, kind: 'decompose', role: 'decomposition', experimentKind: 'wizard' })).toBe(
      'Decomposition (the fix-it wizard)',
    );
    expect(
      kindText({ ...run, kind: 'evaluate', role: 'option', scenario: 'option 3', experimentKind: 'wizard' }),
    ).toBe("Evaluation (the fix-it wizard's option 3)");
    expect(
      kindText({
        ...run,
        kind: 'train',
        role: 'model',
        scenario: 'faulty demo: faulty',
        experimentKind: 'wizard',
      }),
    ).toBe("Training from scratch (the wizard's faulty demo model)");
    expect(kindText({ ...run, kind: 'reuse', role: 'reuse', experimentKind: 'grid' })).toBe(
      'Reuse scenario (a reuse/replace experiment)',
    );
    expect(kindText({ ...run, kind: 'train', role: 'model', experimentKind: 'training' })).toBe(
      'Training from scratch',
    );
    expect(kindText({ ...run, kind: 'something' })).toBe('something');
  });

  test('parameters and results: short values inline, long ones as JSON', () => {
    expect(entry('classes', ['a', 'b'])).toEqual({ key: 'classes', text: 'a, b' });
    const long = entry(
      'classes',
      Array.from({ length: 40 }, (_, i) => `class-${i}`),
    );
    expect(long.text).toBe('40 items');
    expect(JSON.parse(long.json!)).toHaveLength(40);
    expect(entry('nested', { a: 1 })).toEqual({ key: 'nested', text: '{"a":1}' });
    expect(paramEntries(null)).toEqual([]);
    const r = resultEntries({ top1: 0.5, energy_carried: {}, decomposition: [], other: 3 });
    expect(r).toEqual([
      { key: 'Top-1 (test)', text: '50.0%' },
      { key: 'other', text: '3' },
    ]);
    expect(carriedOf({ top1: 1 })).toBeNull();
    expect(table1Of({ result: { decomposition: [] }, params: {} })).toBeNull();
  });
});
