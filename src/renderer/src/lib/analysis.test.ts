import { describe, expect, test } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import type { ScenarioView } from '../../../core/common/api.ts';
import MaskPicture from '../components/MaskPicture.svelte';
import Reuse from '../pages/Reuse.svelte';
import Decompose from '../pages/Decompose.svelte';
import Home from '../pages/Home.svelte';
import {
  keptColor,
  maskPicture,
  modelsCompatible,
  pickLabel,
  replaceProblems,
  reuseProblems,
} from './analysis.ts';
import { JobsStore } from './jobs.svelte.ts';
import { fakeApi, job, modelSummary } from './test-helpers.ts';

const model = modelSummary;

describe('maskPicture', () => {
  test('one row per layer, one cell per channel, wrapped and shaded by kept fraction', () => {
    const pic = maskPicture(
      [
        { layer: 'conv1', shape: [4, 4, 3], keptByChannel: [1, 0.5, 0] },
        { layer: 'conv2', shape: [2, 2, 5], keptByChannel: [1, 1, 1, 0, 0] },
      ],
      4,
      8,
      4,
    );
    expect(pic.rows.map((r) => r.layer)).toEqual(['conv1', 'conv2']);
    expect(pic.rows[0]!.cells).toHaveLength(3);
    expect(pic.rows[0]!.kept).toBeCloseTo(0.5);
    expect(pic.rows[0]!.shape).toBe('4×4×3');
    // conv2 starts below conv1 (one row of 8 px plus the gap) and wraps its fifth channel.
    expect(pic.rows[1]!.y).toBe(12);
    expect(pic.rows[1]!.cells[4]).toMatchObject({ x: 0, y: 20, kept: 0 });
    expect(pic.width).toBe(32);
    expect(pic.height).toBe(12 + 16);
    expect(pic.rows[0]!.cells[1]!.title).toMatch(/conv1 channel 1: 50% kept/);
  });

  test('kept cells are darker than removed ones', () => {
    const light = (c: string) => Number(/(\d+)%\)$/.exec(c)![1]);
    expect(light(keptColor(1))).toBeLessThan(light(keptColor(0)));
    expect(keptColor(2)).toBe(keptColor(1));
  });

  test('renders as SVG cells', () => {
    render(MaskPicture, {
      masks: [{ layer: 'conv1', shape: [2, 2, 2], keptByChannel: [1, 0] }],
      title: 'Masks of circle',
    });
    const fig = screen.getByTestId('mask-picture');
    expect(fig.querySelectorAll('rect')).toHaveLength(2);
    expect(screen.getByRole('img', { name: 'Masks of circle' })).toBeTruthy();
    expect(screen.getByTestId('layer-kept').textContent).toBe('50.0%');
  });
});

describe('compatibility', () => {
  test('models of different input sizes cannot be composed, and the message says why', () => {
    const r = modelsCompatible([model(), model({ runId: 2, dir: '/m/2', inputSize: 64 })]);
    expect(r.ok).toBe(false);
    expect(r.reasons[0]).toMatch(/different input sizes/);
    expect(r.reasons[0]).toMatch(/model #1 takes 32×32, model #2 takes 64×64/);
    expect(modelsCompatible([model(), model({ runId: 2, dir: '/m/2' })]).ok).toBe(true);
  });

  test('reuse needs two classes; replace needs a second, different model', () => {
    expect(reuseProblems([model()], [{ source: 0, classIndex: 0 }])).toEqual([
      'Pick at least two classes to compose.',
    ]);
    expect(
      reuseProblems(
        [model()],
        [
          { source: 0, classIndex: 0 },
          { source: 0, classIndex: 1 },
        ],
      ),
    ).toEqual([]);
    expect(replaceProblems(model(), undefined)[0]).toMatch(/two models/);
    expect(replaceProblems(model(), model())[0]).toMatch(/different second model/);
    expect(replaceProblems(model(), model({ runId: 2, dir: '/m/2', inputSize: 64 }))[0]).toMatch(
      /input sizes/,
    );
    expect(pickLabel([model()], { source: 0, classIndex: 1 })).toBe('ring (model #1)');
  });
});

describe('pages', () => {
  test('Reuse shows why two models of different sizes cannot be composed', async () => {
    const api = fakeApi({
      listModels: async () => [model(), model({ runId: 2, dir: '/m/2', inputSize: 64 })],
    });
    const jobs = new JobsStore(api);
    render(Reuse, { api, jobs });
    await screen.findByTestId('class-picker');
    expect(screen.getByTestId('compatibility').textContent).toMatch(/Pick at least two/);
  });

  test('Decompose shows a finished job as Table 1 rows', async () => {
    const api = fakeApi({ listModels: async () => [model()] });
    const jobs = new JobsStore(api);
    const masks = [{ layer: 'conv1', shape: [2, 2, 2], keptByChannel: [1, 0] }];
    const mod = { classIndex: 0, className: 'circle', ji: 0.8, kept: 4, total: 5, masks };
    jobs.add(
      job({
        kind: 'decompose',
        status: 'finished',
        result: {
          modelDir: '/m/1',
          datasetId: 'shapes',
          table1: {
            modelDir: '/m/1',
            datasetId: 'shapes',
            testImages: 30,
            model: { top1: 0.9, top5: 1, evalSeconds: 0.1 },
            rows: [
              {
                approach: 'CI+TI+MC',
                top1: 0.85,
                top5: 1,
                ji: 0.8,
                jiModules: 0.625,
                seconds: 1,
                evalSeconds: 0.2,
                dir: null,
                modules: [mod],
              },
            ],
            warnings: [],
          },
        },
      }),
    );
    render(Decompose, { api, jobs });
    await waitFor(() => expect(screen.getByTestId('table1')).toBeTruthy());
    const text = screen.getByTestId('table1').textContent ?? '';
    expect(text).toMatch(/90\.0%/);
    expect(text).toMatch(/CI\+TI\+MC/);
    // The Jaccard index both ways, labelled.
    expect(text).toMatch(/JI module vs model\s*JI module vs module/);
    expect(text).toMatch(/0\.800\s*0\.625/);
    expect(text).toMatch(/85\.0%/);
    expect(screen.getByTestId('mask-picture').querySelectorAll('rect')).toHaveLength(2);
  });
  test('Decompose exports a saved module set as portable ONNX models', async () => {
    const api = fakeApi({
      listModels: async () => [model()],
      listModuleSets: async () => [
        {
          runId: 'bln-1',
          dir: '/m/1/modules/bln-1',
          createdAt: '2026-01-01T00:00:00.000Z',
          approach: 'CI+TI+MC-BLN',
          point: 'relu',
          modules: 1,
          meanJi: 0.9,
        },
      ],
    });
    const jobs = new JobsStore(api);
    render(Decompose, { api, jobs });
    await fireEvent.click(await screen.findByRole('button', { name: 'Export bln-1 as ONNX' }));
    const form = screen.getByTestId('export-onnx');
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/Type the folder/);
    await fireEvent.input(within(form).getByLabelText('Folder to write into'), {
      target: { value: ' /out/onnx ' },
    });
    await fireEvent.click(within(form).getByRole('button', { name: 'Export' }));
    await waitFor(() => expect(api.calls.some((c) => c.method === 'exportModulesOnnx')).toBe(true));
    expect(api.calls.find((c) => c.method === 'exportModulesOnnx')!.args).toEqual([
      '/m/1/modules/bln-1',
      '/out/onnx',
    ]);
    expect((await screen.findByTestId('export-result')).textContent).toMatch(
      /1 modules \(1\.10 MB–1\.10 MB each\) and the composed classifier \(1\.30 MB\) to \/out\/onnx/,
    );
  });
  test('Home shows the demo job’s reuse and replace rows with their CO2e ratios', async () => {
    const api = fakeApi();
    const jobs = new JobsStore(api);
    const row = (over: Partial<ScenarioView>): ScenarioView => ({
      scenario: 'reuse',
      kind: 'intra',
      classes: ['circle', 'ring'],
      tma: 0.6,
      testImages: 200,
      co2eRatioFixed: 78.7,
      co2eRatioBest: 40,
      co2eRatioFixedWithDecomposition: 12.5,
      co2eRatioBestWithDecomposition: 6,
      reuseCo2eKg: 1e-6,
      decompositionCo2eKg: 5e-6,
      baselineFixedCo2eKg: 8e-5,
      baselineBestCo2eKg: 4e-5,
      estimated: true,
      ...over,
    });
    jobs.add(
      job({
        kind: 'demo',
        status: 'finished',
        result: {
          modelDir: '/m/1',
          top1: 0.9,
          top5: 1,
          datasetId: 'shapes',
          table1: null,
          scenarios: [
            row({ ma: 1 }),
            row({ scenario: 'replace', kind: 'inter', top1: 0.561, modelTop1: 0.621, co2eRatioFixed: 8.9 }),
          ],
        },
      }),
    );
    render(Home, { api, jobs });
    const table = await screen.findByTestId('scenario-rows');
    const rows = [...table.querySelectorAll('tbody tr')].map((r) => r.textContent ?? '');
    expect(rows[0]).toMatch(/reuse \(intra\).*MA 100\.0%.*60\.0%.*78\.7×/);
    expect(rows[1]).toMatch(/replace \(inter\).*top-1 56\.1%.*top-1 62\.1%.*8\.9×/);
    expect(screen.getByText(/ESTIMATED/)).toBeTruthy();
  });
});
