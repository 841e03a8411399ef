// End to end through the UI: the built renderer served by the web shell (in this process,
// with a temporary DECOMPOSER_HOME), driven in Chromium. Trains a tiny model and sees the
// progress bar and the epoch chart, reloads the page mid-run and sees the job still running,
// cancels it, decomposes the finished model into Table 1 rows, runs a tiny reuse scenario,
// sees the energy chart with the finished runs, and opens the training's run page.
// Screenshots of every screen go to test-results/. Each test opens its page from a fresh load
// and makes what it needs through the API when no earlier test made it, so each runs alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { WebShell } from '../../src/web/server.ts';
import { RESULTS_DIR, startUiSession, type UiSession } from './browser.ts';
import { finished, until } from '../helpers/jobs.ts';

describe('the UI end to end (web shell + Chromium)', () => {
  let session: UiSession;
  let home: string;
  let shell: WebShell;
  let page: Page;
  let problems: string[];

  before(async () => {
    // A refused setting answers 422 with a message the page shows; that is expected.
    session = await startUiSession('ui', /status of 422/);
    ({ home, shell, page, problems } = session);
  });

  after(async () => {
    await session?.close();
  });

  const shot = (name: string) =>
    page.screenshot({ path: path.join(RESULTS_DIR, `ui-${name}.png`), fullPage: true });

  async function fillTraining(epochs: number): Promise<void> {
    const form = page.getByTestId('train-form');
    await form.getByLabel('Depth').selectOption('8');
    await form.getByLabel('Epochs').fill(String(epochs));
    await form.getByLabel('Augmentation').uncheck();
    await form.getByText('Advanced').click();
    await page.getByTestId('per-class').fill('20');
    await form.getByLabel('Batch size').fill('16');
  }

  /** Opens a page of the app from a fresh load, as a test that runs alone does. */
  async function open(id: string): Promise<void> {
    await page.goto(`${shell.url}#/${id}`);
  }

  // What the later tests need, made through the API when an earlier test (the UI's own
  // training and cancel) did not make it already: each test also runs alone.
  let trained: Promise<void> | null = null;
  function ensureTrained(): Promise<void> {
    trained ??= (async () => {
      const runs = await session.api.listRuns();
      if (
        runs.some((r) => r.kind === 'train' && r.status === 'finished' && /, 2 epochs$/.test(r.label ?? ''))
      )
        return;
      const [dataset] = await session.api.listDatasets();
      const job = await session.api.startTraining({
        dataset: dataset!.id,
        depth: 8,
        epochs: 2,
        seed: 1,
        augment: false,
        perClass: 20,
        batchSize: 16,
      });
      finished(await until(session.api, job));
    })();
    return trained;
  }
  async function ensureCancelled(): Promise<void> {
    if ((await session.api.listRuns()).some((r) => r.status === 'cancelled')) return;
    const [dataset] = await session.api.listDatasets();
    const job = await session.api.startTraining({
      dataset: dataset!.id,
      depth: 8,
      epochs: 200,
      seed: 1,
      augment: false,
      perClass: 20,
      batchSize: 16,
    });
    await until(session.api, job, (j) => j.runId !== null);
    await session.api.cancelJob(job.id);
    assert.equal((await until(session.api, job)).status, 'cancelled');
  }

  test('home, with the demo button and no runs yet', async () => {
    await page.goto(shell.url);
    await page.getByRole('heading', { name: 'Recent runs' }).waitFor();
    await page.getByText('No runs yet').waitFor();
    assert.equal(await page.getByTestId('run-demo').isEnabled(), true);
    await shot('home-empty');
  });

  test('a long run shows its progress bar, survives a page reload, and can be cancelled', async () => {
    await open('models');
    await page.getByTestId('train-dataset').selectOption({ index: 0 });
    await fillTraining(200);
    await page.getByRole('button', { name: 'Start training' }).click();
    const bar = page.getByRole('progressbar');
    await bar.waitFor({ timeout: 60_000 });
    await page.getByText(/Training epoch \d+\/200/).waitFor({ timeout: 60_000 });
    await shot('models-training');

    await page.reload();
    const job = page.getByTestId('job').first();
    await job.waitFor();
    assert.equal(await job.getAttribute('data-status'), 'running', 'the job is still running after a reload');
    await page.getByRole('progressbar').waitFor();
    await page.getByTestId('running-count').waitFor();

    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('[data-testid="job"][data-status="cancelled"]').waitFor({ timeout: 60_000 });
  });

  test('a tiny training run finishes with its epoch chart, power chart and model', async () => {
    await open('models');
    await page.getByTestId('train-dataset').selectOption({ index: 0 });
    await fillTraining(2);
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.locator('[data-testid="job"][data-status="finished"]').waitFor({ timeout: 120_000 });
    await page.getByTestId('epoch-chart').locator('svg').first().waitFor();
    assert.ok((await page.getByTestId('epoch-chart').locator('svg').count()) >= 2);
    await page.getByTestId('power-chart').waitFor();
    await page.getByTestId('train-result').waitFor();
    await page.getByTestId('models').getByRole('row').nth(1).waitFor();
    await shot('models-finished');
  });

  test('the tiny model decomposes through the UI into Table 1 rows and a mask picture', async () => {
    await ensureTrained();
    await open('decompose');
    const form = page.getByTestId('decompose-form');
    await form.waitFor();
    await form.getByLabel('Sample size per class').fill('5');
    await form.getByRole('button', { name: 'Decompose' }).click();
    await page.locator('[data-testid="job"][data-status="finished"]').waitFor({ timeout: 60_000 });
    const table = page.getByTestId('table1');
    await table.waitFor();
    assert.equal(await table.getByRole('row').count(), 5, 'a header, the model and three approaches');
    const text = (await table.textContent()) ?? '';
    assert.match(text, /CI\+TI\+MC-BLN\+MC-BI/);
    assert.match(text, /\d+\.\d%/);
    assert.ok((await page.getByTestId('modules-ji').getByRole('row').count()) > 2);
    const pic = page.getByTestId('mask-picture');
    await pic.waitFor();
    assert.ok((await pic.locator('rect').count()) > 10);
    await page.getByTestId('module-sets').waitFor();
    await shot('decompose');
  });

  test('a tiny reuse scenario runs with its baseline and shows MA and TMA', async () => {
    await ensureTrained();
    await open('reuse');
    const form = page.getByTestId('scenario-form');
    await form.waitFor();
    const boxes = page.getByTestId('class-picker').getByRole('checkbox');
    await boxes.nth(0).check();
    await page
      .getByTestId('compatibility')
      .getByText(/Pick at least two/)
      .waitFor();
    await boxes.nth(1).check();
    await page
      .getByTestId('compatibility')
      .getByText(/Compatible/)
      .waitFor();
    await form.getByText('Settings', { exact: true }).click();
    await form.getByLabel('Sample size per class').fill('5');
    await page.getByTestId('baseline-epochs').fill('1');
    await form.getByRole('button', { name: 'Run scenario' }).click();
    await page.locator('[data-testid="job"][data-status="finished"]').waitFor({ timeout: 90_000 });
    const result = page.getByTestId('scenario-result');
    await result.waitFor();
    const text = (await result.textContent()) ?? '';
    assert.match(text, /MA/);
    assert.match(text, /TMA/);
    assert.match(text, /\d+\.\d%/);
    await page.getByTestId('scenario-co2e').waitFor();
    await shot('reuse');
  });

  test('the energy page shows the finished run in the chart and the table', async () => {
    await ensureTrained();
    await open('energy');
    const chart = page.getByTestId('energy-chart');
    await chart.waitFor();
    assert.ok((await chart.locator('svg').count()) >= 2);
    const table = (await page.getByTestId('energy-table').textContent()) ?? '';
    assert.match(table, /Finished/);
    assert.match(table, /measured|estimated/);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'energy.csv');
    await shot('energy');
  });

  test("the finished training's run page shows its epochs, energy source and charts", async () => {
    await ensureTrained();
    await open('energy');
    await page
      .getByTestId('energy-table')
      .getByRole('link', { name: /ResNet-8 on .*, 2 epochs$/ })
      .click();
    await page.getByTestId('run').waitFor();
    assert.match(page.url(), /#\/run\/\d+$/);
    assert.equal(await page.getByTestId('run-status').textContent(), 'Finished');
    assert.equal(await page.getByTestId('run-epochs').getByRole('row').count(), 3, 'a header and two epochs');
    const source = (await page.getByTestId('run-energy-source').textContent()) ?? '';
    const name = /Source: (\S+)/.exec(source)?.[1] ?? '';
    assert.ok(name, `an energy source is named: ${source}`);
    // An estimate is marked as one; a measurement says so.
    if (name.startsWith('estimate')) await page.getByTestId('run-estimate').waitFor();
    else assert.match(source, /measured/);
    assert.equal(await page.getByTestId('run-energy-table').getByRole('row').count(), 4);
    assert.ok((await page.getByTestId('epoch-chart').locator('svg').count()) >= 2);
    await page.getByTestId('power-chart').locator('canvas').first().waitFor();
    await shot('run');
    await page.getByTestId('run-back').click();
    await page.getByTestId('energy-table').waitFor();
  });

  test('home lists the runs; datasets preview and settings render', async () => {
    await ensureTrained();
    await ensureCancelled();
    await open('home');
    const runs = page.getByTestId('recent-runs');
    await runs.waitFor();
    const text = (await runs.textContent()) ?? '';
    assert.match(text, /Finished/);
    assert.match(text, /Cancelled/);
    await shot('home');

    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.getByRole('button', { name: /Preview shapes 32x32/ }).click();
    await page.getByTestId('preview').locator('img').first().waitFor({ timeout: 60_000 });
    assert.ok((await page.getByTestId('preview').locator('img').count()) >= 10);
    await shot('datasets');
    // In the browser a path field stands in for the native picker; a bad path says what to do.
    await page.getByLabel('Path').fill(path.join(home, 'nothing-here'));
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.locator('[data-testid="job"][data-status="failed"]').waitFor({ timeout: 30_000 });

    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByTestId('active-backend').waitFor({ timeout: 60_000 });
    const pue = page.getByTestId('setting-pue');
    await pue.fill('0.5');
    await pue.press('Tab');
    await page.getByRole('alert').filter({ hasText: /pue/i }).waitFor();
    await shot('settings');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.getByRole('link', { name: 'Models' }).click();
    await page.getByTestId('models').waitFor();
    await shot('models-dark');
    assert.deepEqual(problems, [], 'the page logged errors (a CSP violation would show here)');
  });
});
