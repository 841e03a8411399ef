import { describe, expect, test } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import type { DecomposerApi, JobInfo, ModelSummary, WizardParams } from '../../../core/common/api.ts';
import { UserError } from '../../../core/common/errors.ts';
import { PAIR_DEFAULTS } from '../../../core/common/wizard.ts';
import Wizard from './Wizard.svelte';
import { JobsStore } from '../lib/jobs.svelte.ts';
import {
  faultView,
  fakeApi,
  job,
  modelSummary,
  repairedSummary,
  wizardView,
  type FakeApi,
} from '../lib/test-helpers.ts';

const SHAPES = faultView().classNames;

const model = (over: Partial<ModelSummary>) =>
  modelSummary({
    dir: '/home/models/run-1',
    dataset: 'shapes 32x32',
    epochs: 2,
    bestEpoch: 2,
    top1: 0.72,
    top5: 1,
    classNames: SHAPES,
    datasetId: 'synthetic:shapes:32',
    ...over,
  });

const faultyModel = model({});
const cleanModel = model({ runId: 2, dir: '/home/models/run-2', top1: 0.9 });
const otherData = model({ runId: 3, dir: '/home/models/run-3', classNames: ['a', 'b'] });

async function setup(overrides: Partial<DecomposerApi> = {}): Promise<{ api: FakeApi; jobs: JobsStore }> {
  const api = fakeApi({ listModels: async () => [faultyModel, cleanModel, otherData], ...overrides });
  const jobs = new JobsStore(api);
  await jobs.start();
  render(Wizard, { api, jobs });
  return { api, jobs };
}

async function pickModel(dir: string): Promise<void> {
  const select = screen.getByTestId('wizard-model') as HTMLSelectElement;
  await waitFor(() => expect(select.querySelector(`option[value="${dir}"]`)).toBeTruthy());
  await fireEvent.change(select, { target: { value: dir } });
  await screen.findByTestId('confusion-matrix');
}

/** Ends a job as `j.status` says (running: finished), as the core's status event does. */
function finish(api: FakeApi, j: JobInfo): void {
  const status = j.status === 'running' ? 'finished' : j.status;
  const done = { ...j, status, endedAt: '2026-01-01T00:01:00.000Z' };
  api.emit({
    jobId: j.id,
    kind: j.kind,
    status,
    progress: { stage: 'Done', fraction: 1 },
    payload: { type: 'status', job: done },
  });
}

const selectValue = (id: string) => (screen.getByTestId(id) as HTMLSelectElement).value;
const selectedText = (id: string) => {
  const s = screen.getByTestId(id) as HTMLSelectElement;
  return s.options[s.selectedIndex]?.textContent ?? '';
};

describe('Wizard page: the fault and the options', () => {
  test('step 1: a picked model is analysed; its matrix and most-confused pair are shown', async () => {
    const { api } = await setup();
    expect(screen.getByRole('heading', { name: '1. Find the fault' })).toBeTruthy();
    expect(api.calls.some((c) => c.method === 'analyzeFault')).toBe(false);
    await pickModel(faultyModel.dir);
    expect(api.calls.find((c) => c.method === 'analyzeFault')?.args).toEqual([faultyModel.dir, null]);
    expect(screen.getByTestId('fault-accuracy').textContent).toMatch(/top-1 72\.0%, top-5\s+100\.0%/);
    const matrix = screen.getByTestId('confusion-matrix');
    expect(
      within(matrix)
        .getAllByRole('columnheader')
        .map((h) => h.textContent?.trim()),
    ).toContain('star-6');
    expect(
      within(matrix)
        .getAllByRole('rowheader')
        .map((h) => h.textContent),
    ).toEqual(SHAPES);
    expect(within(matrix).getByTitle('star-5 predicted as star-6: 6 of 10 (60%)')).toBeTruthy();
    expect(selectedText('wizard-faulty')).toBe('star-6');
    expect(selectedText('wizard-victim')).toBe('star-5');
    expect(screen.getByTestId('fault-sentence').textContent).toMatch(
      /60% of star-5's test images are predicted\s+as\s+star-6 \(6 of 10\)/,
    );
    // Another pair updates the sentence.
    await fireEvent.change(screen.getByTestId('wizard-victim'), { target: { value: '2' } });
    expect(screen.getByTestId('fault-sentence').textContent).toMatch(/0% of square's test images/);
  });

  test('step 1: another dataset of the same classes and size can serve as the test data', async () => {
    const info = (id: string, classNames: string[], imageSize = 32) => ({
      id,
      kind: 'folder' as const,
      name: `data ${id}`,
      imageSize,
      classNames,
      trainCount: 10,
      testCount: 5,
      source: '/data',
    });
    const { api } = await setup({
      listDatasets: async () => [
        info('same', SHAPES),
        info('fewer', ['a', 'b']),
        info('bigger', SHAPES, 64),
        info('synthetic:shapes:32', SHAPES),
      ],
    });
    await pickModel(faultyModel.dir);
    const options = [...(screen.getByTestId('wizard-dataset') as HTMLSelectElement).options].map(
      (o) => o.value,
    );
    expect(options).toEqual(['', 'same']);
    await fireEvent.change(screen.getByTestId('wizard-dataset'), { target: { value: 'same' } });
    await waitFor(() =>
      expect(api.calls.filter((c) => c.method === 'analyzeFault').at(-1)?.args).toEqual([
        faultyModel.dir,
        'same',
      ]),
    );
    await screen.findByTestId('confusion-matrix');
    await fireEvent.click(screen.getByTestId('run-wizard'));
    await waitFor(() => expect(api.calls.some((c) => c.method === 'startWizard')).toBe(true));
    const p = api.calls.find((c) => c.method === 'startWizard')!.args[0] as WizardParams;
    expect(p.dataset).toBe('same');
  });

  test('step 2: the four options with the paper’s texts; option 1 offers only compatible models', async () => {
    await setup();
    await pickModel(faultyModel.dir);
    const form = screen.getByTestId('wizard-form');
    for (const o of [1, 2, 3, 4])
      expect((screen.getByTestId(`option-${o}`) as HTMLInputElement).checked).toBe(true);
    expect(within(form).getByText(/The cheapest option\./)).toBeTruthy();
    expect(within(form).getAllByText('Pros')).toHaveLength(4);
    expect((screen.getByTestId('pair-epochs') as HTMLInputElement).value).toBe(String(PAIR_DEFAULTS.epochs));
    expect((screen.getByTestId('wizard-per-class') as HTMLInputElement).value).toBe('100');
    const better = screen.getByTestId('better-model') as HTMLSelectElement;
    const choices = [...better.options].map((o) => o.value);
    expect(choices).toEqual([cleanModel.dir, '__train__']);
    await fireEvent.change(better, { target: { value: '__train__' } });
    expect(screen.getByTestId('better-epochs')).toBeTruthy();
    await fireEvent.click(screen.getByTestId('option-1'));
    expect(screen.queryByTestId('better-model')).toBeNull();
  });

  test('option 1 says so when there is no better model and none can be trained', async () => {
    await setup({ listModels: async () => [model({ depth: null })] });
    await pickModel(faultyModel.dir);
    expect(screen.getByTestId('no-better').textContent).toMatch(/untick option 1/);
    expect((screen.getByTestId('run-wizard') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByTestId('option-1'));
    expect((screen.getByTestId('run-wizard') as HTMLButtonElement).disabled).toBe(false);
  });
});

describe('Wizard page: repairing', () => {
  test('steps 3-5: runs, compares like Table 6, recommends, and saves under a name', async () => {
    const { api } = await setup();
    await pickModel(faultyModel.dir);
    await fireEvent.input(screen.getByTestId('pair-epochs'), { target: { value: '1' } });
    await fireEvent.input(screen.getByTestId('wizard-per-class'), { target: { value: '10' } });
    await fireEvent.click(screen.getByTestId('run-wizard'));
    await waitFor(() => expect(api.calls.some((c) => c.method === 'startWizard')).toBe(true));
    const params = api.calls.find((c) => c.method === 'startWizard')!.args[0] as WizardParams;
    expect(params).toEqual({
      modelDir: faultyModel.dir,
      dataset: null,
      faulty: 4,
      victim: 3,
      options: [1, 2, 3, 4],
      betterModel: cleanModel.dir,
      betterEpochs: null,
      pairDepth: 8,
      pairEpochs: 1,
      perClass: 10,
      seed: 1,
    });
    // Running: progress, stage, cancel.
    await screen.findByRole('heading', { name: '3. Running the repairs' });
    expect(screen.getByRole('progressbar')).toBeTruthy();
    expect((screen.getByTestId('run-wizard') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(api.calls.find((c) => c.method === 'cancelJob')?.args).toEqual(['job-wizard']);

    finish(
      api,
      job({
        id: 'job-wizard',
        kind: 'wizard',
        result: { modelDir: faultyModel.dir, datasetId: 'shapes', wizard: wizardView() },
      }),
    );
    const table = await screen.findByTestId('wizard-table');
    const rows = within(table).getAllByRole('row');
    expect(rows.map((r) => r.querySelector('th')?.textContent?.trim().split('\n')[0])).toEqual([
      'Strategy',
      'Initial model',
      expect.stringMatching(/^Composed modules/),
      expect.stringMatching(/^Option 2: replace with a two-class model’s module/),
      expect.stringMatching(/^Option 3: remove the faulty module/),
    ]);
    expect(within(table).getByRole('columnheader', { name: 'star-5 called star-6' })).toBeTruthy();
    const recommended = screen.getByTestId('wizard-row-option-2');
    expect(recommended.classList.contains('recommended')).toBe(true);
    expect(recommended.textContent).toMatch(/Recommended/);
    expect(recommended.textContent).toMatch(/84\.0%.*10\.0%/s);
    expect(recommended.textContent).toMatch(/estimated/);
    expect(screen.getByTestId('wizard-row-option-3').textContent).toMatch(/star-6 is never predicted/);
    expect(screen.getByTestId('wizard-skipped').textContent).toMatch(/Option 1 .* skipped: no better model/);
    expect(screen.getByTestId('recommendation').textContent).toMatch(/Recommended: option 2/);

    // Keep the result: the recommended option, a default name that follows the option.
    expect(selectValue('save-option')).toBe('2');
    const name = screen.getByTestId('save-name') as HTMLInputElement;
    expect(name.value).toBe('repaired-star-6-option-2');
    await fireEvent.change(screen.getByTestId('save-option'), { target: { value: '3' } });
    await waitFor(() => expect(name.value).toBe('repaired-star-6-option-3'));
    await fireEvent.input(name, { target: { value: 'my fix' } });
    expect((screen.getByRole('button', { name: 'Save' }) as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(name, { target: { value: 'my-fix' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByTestId('saved');
    expect(api.calls.find((c) => c.method === 'saveRepair')?.args).toEqual([
      { jobId: 'job-wizard', option: 3, name: 'my-fix' },
    ]);
    expect(screen.getByTestId('saved').textContent).toMatch(/\/home\/repaired\/my-fix/);
  });

  test('a faulty demo model: advanced settings, then its model is picked and its clean model is option 1’s', async () => {
    const demoDir = '/home/wizard/faulty';
    const cleanDir = '/home/wizard/clean';
    const { api } = await setup({
      listModels: async () => [
        faultyModel,
        model({ runId: 7, dir: demoDir }),
        model({ runId: 8, dir: cleanDir }),
      ],
    });
    await fireEvent.click(screen.getByText('Advanced', { selector: 'summary' }));
    await fireEvent.change(screen.getByTestId('demo-depth'), { target: { value: '8' } });
    await fireEvent.input(screen.getByTestId('demo-epochs'), { target: { value: '1' } });
    await fireEvent.input(screen.getByTestId('demo-per-class'), { target: { value: '24' } });
    await fireEvent.click(screen.getByTestId('make-demo'));
    await waitFor(() => expect(api.calls.some((c) => c.method === 'startFaultyDemo')).toBe(true));
    expect(api.calls.find((c) => c.method === 'startFaultyDemo')?.args).toEqual([
      { depth: 8, epochs: 1, perClass: 24 },
    ]);
    await screen.findByTestId('job');
    expect((screen.getByTestId('make-demo') as HTMLButtonElement).disabled).toBe(true);
    // The demo planted circle → ring; the (fake) analysis finds star-5 → star-6 worse.
    const fault = {
      victim: 0,
      faulty: 1,
      victimName: 'circle',
      faultyName: 'ring',
      fraction: 0.6,
      relabelled: 14,
      confusion: 0.5,
      cleanConfusion: 0,
    };
    finish(
      api,
      job({
        id: 'job-faulty',
        kind: 'faulty',
        result: { modelDir: demoDir, datasetId: 'shapes', betterDir: cleanDir, fault },
      }),
    );
    await screen.findByTestId('confusion-matrix');
    expect(selectValue('wizard-model')).toBe(demoDir);
    expect(api.calls.filter((c) => c.method === 'analyzeFault').map((c) => c.args)).toEqual([
      [demoDir, null],
    ]);
    const made = screen.getByTestId('demo-fault').textContent ?? '';
    expect(made).toMatch(/14 of circle's training images \(60\.0%\) were labelled ring/);
    expect(made).toMatch(/predicts 50\.0% of circle's test images as ring, the clean model 0\.0%/);
    // The demo's model starts on the planted pair; after picking another, one click goes back.
    expect(selectedText('wizard-victim')).toBe('circle');
    expect(selectedText('wizard-faulty')).toBe('ring');
    expect(screen.queryByTestId('use-planted')).toBeNull();
    await fireEvent.change(screen.getByTestId('wizard-victim'), { target: { value: '3' } });
    expect(selectedText('wizard-victim')).toBe('star-5');
    await fireEvent.click(screen.getByTestId('use-planted'));
    expect(selectedText('wizard-victim')).toBe('circle');
    expect(selectedText('wizard-faulty')).toBe('ring');
    expect(screen.getByTestId('fault-sentence').textContent).toMatch(/0% of circle's test images/);
    expect(screen.queryByTestId('use-planted')).toBeNull();
    expect(selectValue('better-model')).toBe(cleanDir);
    expect(selectedText('better-model')).toMatch(/the demo’s clean model/);
  });
});

describe('Wizard page: errors and saved classifiers', () => {
  test('errors read as message and hint', async () => {
    const { api } = await setup({
      startWizard: async () => {
        throw new UserError('The model folder is gone.', 'Pick another model.');
      },
      listRepaired: async () => [],
    });
    await pickModel(faultyModel.dir);
    await fireEvent.click(screen.getByTestId('run-wizard'));
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toBe('The model folder is gone. Pick another model.'),
    );
    // A failed job shows its error too.
    finish(
      api,
      job({ id: 'job-w2', kind: 'wizard', status: 'failed', error: 'Out of memory. Use fewer images.' }),
    );
    await waitFor(() => expect(screen.getByText('Out of memory. Use fewer images.')).toBeTruthy());
  });

  test('an analysis failure is shown instead of the matrix', async () => {
    await setup({
      analyzeFault: async () => {
        throw new UserError('No test set for this model.', 'Import its dataset first.');
      },
    });
    const select = screen.getByTestId('wizard-model') as HTMLSelectElement;
    await waitFor(() => expect(select.options.length).toBeGreaterThan(1));
    await fireEvent.change(select, { target: { value: faultyModel.dir } });
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toBe(
        'No test set for this model. Import its dataset first.',
      ),
    );
    expect(screen.queryByTestId('wizard-form')).toBeNull();
  });

  test('saved repaired classifiers are listed and evaluated', async () => {
    const r = repairedSummary();
    const { api } = await setup({
      listRepaired: async () => [r],
      analyzeFault: async (dir) =>
        faultView({
          dir,
          kind: 'repaired',
          top1: 0.84,
          top5: 0.98,
          matrix: [
            [10, 0, 0, 0, 0],
            [1, 9, 0, 0, 0],
            [0, 0, 10, 0, 0],
            [0, 0, 0, 9, 1],
            [0, 0, 0, 1, 9],
          ],
        }),
    });
    const list = await screen.findByTestId('repaired-list');
    const row = within(list).getByTestId('repaired-row');
    expect(row.textContent).toMatch(/repaired-star-6-option-2/);
    expect(row.textContent).toMatch(/2: replace with a two-class model’s module/);
    expect(row.textContent).toMatch(/star-5 called star-6/);
    expect(row.textContent).toMatch(/84\.0% \(was 72\.0%\)/);
    await fireEvent.click(within(row).getByRole('button', { name: `Evaluate ${r.name}` }));
    await waitFor(() => expect(within(row).getByTestId('repaired-eval').textContent).toMatch(/top-1 84\.0%/));
    const ev = within(row).getByTestId('repaired-eval').textContent ?? '';
    expect(ev).toMatch(/top-5 98\.0%/);
    expect(ev).toMatch(/star-5 called star-6\s+10\.0%/);
    expect(api.calls.find((c) => c.method === 'analyzeFault')?.args).toEqual([r.dir, null]);
  });
});
