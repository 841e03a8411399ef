import { describe, expect, test } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { MAX_IMPORT_EXTRA, type DecomposerApi, type ImportSpec } from '../../../core/common/api.ts';
import Datasets from './Datasets.svelte';
import { JobsStore } from '../lib/jobs.svelte.ts';
import { datasetInfo, fakeApi, job, type FakeApi } from '../lib/test-helpers.ts';

async function setup(overrides: Partial<DecomposerApi> = {}, nativePicker = false): Promise<FakeApi> {
  let n = 0;
  const api = fakeApi({
    importDataset: async () => job({ id: `job-import-${++n}`, kind: 'import', label: 'Import' }),
    ...overrides,
  });
  const jobs = new JobsStore(api);
  render(Datasets, { api, jobs, nativePicker });
  await screen.findByTestId('datasets');
  return api;
}

const importForm = () => screen.getByRole('heading', { name: 'Import a dataset' }).closest('section')!;
const mainKind = () => within(importForm()).getAllByLabelText('Kind')[0] as HTMLSelectElement;
const mainPath = () => within(importForm()).getAllByLabelText('Path')[0] as HTMLInputElement;
const rows = () => within(screen.getByTestId('import-extra')).queryAllByRole('group');
const addButton = () => screen.getByRole('button', { name: 'Add a folder of classes' });

async function submit(): Promise<void> {
  await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
}

const importCalls = (api: FakeApi) =>
  api.calls.filter((c) => c.method === 'importDataset').map((c) => c.args[0] as ImportSpec);

describe('the Datasets page import', () => {
  test('without added rows the single-source import is unchanged', async () => {
    const api = await setup();
    expect(rows()).toHaveLength(0);
    await fireEvent.change(mainKind(), { target: { value: 'tinyimagenet' } });
    await fireEvent.input(mainPath(), { target: { value: ' /data/tiny-imagenet-200 ' } });
    expect(screen.queryByLabelText('Resize to')).toBeNull();
    await submit();
    await fireEvent.change(mainKind(), { target: { value: 'folder' } });
    await fireEvent.input(mainPath(), { target: { value: '/data/pets' } });
    await fireEvent.change(screen.getByLabelText('Resize to'), { target: { value: '64' } });
    await submit();
    await waitFor(() => expect(importCalls(api)).toHaveLength(2));
    expect(importCalls(api)).toEqual([
      { kind: 'tinyimagenet', path: '/data/tiny-imagenet-200' },
      { kind: 'folder', path: '/data/pets', size: 64 },
    ]);
  });

  test('added rows make one combined import: Tiny ImageNet plus a folder of person/ and gorilla/', async () => {
    const api = await setup();
    expect(within(screen.getByTestId('import-extra')).getByText(/202-class setting/)).toBeTruthy();
    await fireEvent.change(mainKind(), { target: { value: 'tinyimagenet' } });
    await fireEvent.input(mainPath(), { target: { value: '/data/tiny-imagenet-200' } });
    await fireEvent.click(addButton());
    await fireEvent.click(addButton());
    await fireEvent.click(addButton());
    expect(rows()).toHaveLength(3);
    const [first, second, third] = rows() as [HTMLElement, HTMLElement, HTMLElement];
    expect(first.getAttribute('aria-label')).toBe('Added source 1');
    expect((within(first).getByLabelText('Kind') as HTMLSelectElement).value).toBe('folder');
    await fireEvent.input(within(first).getByLabelText('Path'), { target: { value: '/data/unused' } });
    await fireEvent.input(within(second).getByLabelText('Path'), {
      target: { value: ' /data/person-gorilla ' },
    });
    await fireEvent.change(within(third).getByLabelText('Kind'), { target: { value: 'cifar10' } });
    await fireEvent.input(within(third).getByLabelText('Path'), { target: { value: '/data/c10.tar.gz' } });
    // Folders follow Tiny ImageNet's size: no size choice, a note instead.
    expect(screen.queryByLabelText('Resize to')).toBeNull();
    expect(screen.getByTestId('import-extra-size').textContent).toMatch(/64×64, the size of Tiny ImageNet/);

    // Removing the first row keeps the others, renumbered.
    await fireEvent.click(screen.getByRole('button', { name: 'Remove added source 1' }));
    expect(rows()).toHaveLength(2);
    expect((within(rows()[0]!).getByLabelText('Path') as HTMLInputElement).value).toBe(
      ' /data/person-gorilla ',
    );
    expect(rows()[1]!.getAttribute('aria-label')).toBe('Added source 2');

    await submit();
    await waitFor(() => expect(importCalls(api)).toHaveLength(1));
    expect(importCalls(api)[0]).toEqual({
      kind: 'tinyimagenet',
      path: '/data/tiny-imagenet-200',
      extra: [
        { kind: 'folder', path: '/data/person-gorilla' },
        { kind: 'cifar10', path: '/data/c10.tar.gz' },
      ],
    });

    // All rows removed: a single import again.
    await fireEvent.click(screen.getByRole('button', { name: 'Remove added source 2' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Remove added source 1' }));
    expect(rows()).toHaveLength(0);
    expect(screen.queryByTestId('import-extra-size')).toBeNull();
    await submit();
    await waitFor(() => expect(importCalls(api)).toHaveLength(2));
    expect(importCalls(api)[1]).toEqual({ kind: 'tinyimagenet', path: '/data/tiny-imagenet-200' });
  });

  test('folders only: the size choice applies to every folder', async () => {
    const api = await setup();
    await fireEvent.change(mainKind(), { target: { value: 'folder' } });
    await fireEvent.input(mainPath(), { target: { value: '/data/pets' } });
    await fireEvent.click(addButton());
    await fireEvent.input(within(rows()[0]!).getByLabelText('Path'), { target: { value: '/data/more' } });
    await fireEvent.change(screen.getByLabelText('Resize to'), { target: { value: '64' } });
    await submit();
    await waitFor(() => expect(importCalls(api)).toHaveLength(1));
    expect(importCalls(api)[0]).toEqual({
      kind: 'folder',
      path: '/data/pets',
      size: 64,
      extra: [{ kind: 'folder', path: '/data/more' }],
    });
    // A CIFAR row fixes the size at 32: the choice goes, the note says so.
    await fireEvent.change(within(rows()[0]!).getByLabelText('Kind'), { target: { value: 'cifar100' } });
    expect(screen.queryByLabelText('Resize to')).toBeNull();
    expect(screen.getByTestId('import-extra-size').textContent).toMatch(/32×32, the size of CIFAR-100/);
  });

  test('an added row without a path is refused before calling the core', async () => {
    const api = await setup();
    await fireEvent.input(mainPath(), { target: { value: '/data/c10.tar.gz' } });
    await fireEvent.click(addButton());
    await submit();
    expect((await screen.findByRole('alert')).textContent).toMatch(/path of each added source/);
    expect(importCalls(api)).toHaveLength(0);
  });

  test('a row’s Browse… asks the native picker for a folder and fills that row', async () => {
    const api = await setup(
      { pickPath: async (kind) => (kind === 'folder' ? '/picked/folder' : '/picked/file') },
      true,
    );
    await fireEvent.click(addButton());
    await fireEvent.click(addButton());
    await fireEvent.click(within(rows()[1]!).getByRole('button', { name: 'Browse…' }));
    await waitFor(() =>
      expect((within(rows()[1]!).getByLabelText('Path') as HTMLInputElement).value).toBe('/picked/folder'),
    );
    expect((within(rows()[0]!).getByLabelText('Path') as HTMLInputElement).value).toBe('');
    expect(api.calls.filter((c) => c.method === 'pickPath').map((c) => c.args)).toEqual([['folder']]);
  });

  test('no Browse… without a native picker, and at most MAX_IMPORT_EXTRA rows', async () => {
    await setup();
    for (let i = 0; i < MAX_IMPORT_EXTRA + 2; i++) await fireEvent.click(addButton());
    expect(rows()).toHaveLength(MAX_IMPORT_EXTRA);
    expect((addButton() as HTMLButtonElement).disabled).toBe(true);
    expect(within(rows()[0]!).queryByRole('button', { name: 'Browse…' })).toBeNull();
  });

  test('an imported combined dataset is listed with its class count like any other', async () => {
    const combined = datasetInfo({
      id: 'combined-0123456789ab',
      kind: 'combined',
      name: 'Tiny ImageNet + 2 folder classes',
      classNames: [...datasetInfo().classNames, 'gorilla', 'person'],
      source: 'tinyimagenet /data/tiny-imagenet-200; folder /data/person-gorilla',
    });
    await setup({ listDatasets: async () => [datasetInfo(), combined] });
    const table = screen.getByTestId('datasets');
    const row = within(table)
      .getByRole('rowheader', { name: 'Tiny ImageNet + 2 folder classes' })
      .closest('tr')!;
    const cells = within(row)
      .getAllByRole('cell')
      .map((c) => c.textContent);
    expect(cells.slice(0, 2)).toEqual(['64×64', '202']);
    expect(
      within(row).getByRole('button', { name: 'Preview Tiny ImageNet + 2 folder classes' }),
    ).toBeTruthy();
  });
});

describe('the Datasets page and the MNIST family', () => {
  test('a dataset found on this machine is marked so; its download is one click and needs no import', async () => {
    const api = await setup({
      listDatasets: async () => [
        datasetInfo({
          id: 'mnist-fashion-mnist-pad32-0123456789ab',
          kind: 'mnist',
          name: 'Fashion-MNIST',
          imageSize: 32,
          classNames: ['T-shirt/top', 'Trouser'],
          source: '/usr/share/datasets/fashion-mnist',
          found: true,
        }),
        datasetInfo(),
      ],
      downloadDataset: async () =>
        job({
          id: 'job-dl-1',
          kind: 'download',
          label: 'Download Fashion-MNIST',
          status: 'finished',
          result: { path: '/home/u/.decomposer/downloads/fashion-mnist' },
        }),
    });
    const table = screen.getByTestId('datasets');
    const found = within(table).getByRole('row', { name: /Fashion-MNIST/ });
    expect(within(found).getByText('found on this machine')).toBeTruthy();
    expect(within(table).getByRole('row', { name: /Tiny ImageNet/ }).textContent).not.toMatch(
      /found on this machine/,
    );
    await fireEvent.click(screen.getByRole('button', { name: 'Download Fashion-MNIST' }));
    await waitFor(() => expect(api.calls.some((c) => c.method === 'downloadDataset')).toBe(true));
    expect(api.calls.find((c) => c.method === 'downloadDataset')!.args).toEqual(['fashion-mnist']);
    expect(await screen.findByText(/listed above as found on this machine/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Import it' })).toBeNull();
  });

  test('the MNIST family imports from the folder of its IDX files, 32x32 like CIFAR', async () => {
    const api = await setup();
    await fireEvent.change(mainKind(), { target: { value: 'fashion-mnist' } });
    await fireEvent.input(mainPath(), { target: { value: '/data/fashion' } });
    expect(screen.queryByLabelText('Resize to')).toBeNull();
    await fireEvent.click(addButton());
    await fireEvent.input(within(rows()[0]!).getByLabelText('Path'), { target: { value: '/data/more' } });
    expect(screen.getByTestId('import-extra-size').textContent).toMatch(/32×32, the size of Fashion-MNIST/);
    await submit();
    await waitFor(() => expect(importCalls(api)).toHaveLength(1));
    expect(importCalls(api)[0]).toEqual({
      kind: 'fashion-mnist',
      path: '/data/fashion',
      extra: [{ kind: 'folder', path: '/data/more' }],
    });
  });
});
