import { describe, expect, test, vi } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import type { DecomposerApi, ImportedModelView, ImportModelParams } from '../../../core/common/api.ts';
import Models from './Models.svelte';
import { JobsStore } from '../lib/jobs.svelte.ts';
import { datasetInfo, fakeApi, modelSummary, type FakeApi } from '../lib/test-helpers.ts';

// uPlot draws on a canvas, which jsdom lacks (the page's training charts).
vi.mock('uplot', () => ({
  default: class {
    destroy(): void {}
    setData(): void {}
  },
}));

const SOURCE = {
  file: 'resnet18.onnx',
  sha256: 'ab'.repeat(32),
  bytes: 44_754_881,
  format: 'onnx' as const,
  producer: { name: 'pytorch', version: '1.13.0' },
  opset: 17,
  layout: 'nchw' as const,
  output: 'logits' as const,
  batchNorm: 'folded' as const,
  importedAt: '2025-06-01T10:00:00.000Z',
};

const VIEW: ImportedModelView = {
  dir: '/models/r18',
  source: SOURCE,
  inputShape: [28, 28, 1],
  classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
  datasetId: 'fmnist',
  datasetName: 'Fashion-MNIST',
  preprocess: '(p / 255 - 0.286) / 0.353',
  layers: 'Conv2D 20, Dense 1',
  notes: ['BatchNormalization was folded into the convolutions by the exporter.'],
};

async function setup(overrides: Partial<DecomposerApi> = {}): Promise<FakeApi> {
  const api = fakeApi({
    listDatasets: async () => [datasetInfo({ id: 'fmnist', name: 'Fashion-MNIST' })],
    ...overrides,
  });
  render(Models, { api, jobs: new JobsStore(api) });
  await screen.findByRole('heading', { name: 'Bring your own model' });
  return api;
}

/** An element's text with runs of white space as one space. */
const text = (testid: string) => (screen.getByTestId(testid).textContent ?? '').replace(/\s+/g, ' ');

const fill = async (label: string, value: string) =>
  fireEvent.input(screen.getByTestId(label), { target: { value } });

describe('Import model… on the Models page', () => {
  test('sends the file, folder, dataset and per-channel normalisation; shows what was imported and lists it', async () => {
    let imported = false;
    const api = await setup({
      importModel: async () => {
        imported = true;
        return VIEW;
      },
      listModels: async () =>
        imported
          ? [modelSummary(), modelSummary({ runId: null, dir: VIEW.dir, source: SOURCE, depth: null })]
          : [],
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Import model…' }));
    await fill('import-file', ' /x/resnet18.onnx ');
    await fill('import-out', '/models/r18');
    await fill('import-mean', '0.485, 0.456,0.406');
    await fill('import-std', '0.229,0.224,0.225');
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    await screen.findByTestId('import-result');
    const call = api.calls.find((c) => c.method === 'importModel')!.args[0] as ImportModelParams;
    expect(call).toEqual({
      file: '/x/resnet18.onnx',
      out: '/models/r18',
      dataset: 'fmnist',
      classes: null,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      layout: null,
      fit: null,
    });
    expect(text('import-result')).toMatch(/Imported resnet18\.onnx .*28×28×1 inputs, 10 classes/);
    expect(text('import-result')).toMatch(/folded into the convolutions/);
    // The list is read again: the imported model is there, with where it came from.
    await waitFor(() =>
      expect(screen.getByTestId('imported-model').textContent).toMatch(/resnet18\.onnx \(imported\)/),
    );
    expect(text('models')).toMatch(/pytorch 1\.13\.0, opset 17, NCHW, batch norm folded by the exporter/);
  });

  test('a refusal is shown as the core says it; values that are not numbers are caught first', async () => {
    const api = await setup({
      importModel: async () => {
        throw new Error('x.onnx cannot be imported: LSTM (node "lstm") is not supported.');
      },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Import model…' }));
    await fill('import-file', '/x.onnx');
    await fill('import-out', '/m');
    await fill('import-mean', '0.5, a');
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/numbers separated by commas/);
    expect(api.calls.some((c) => c.method === 'importModel')).toBe(false);
    await fill('import-mean', '0.5');
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toMatch(/LSTM \(node "lstm"\) is not supported/),
    );
  });
});
