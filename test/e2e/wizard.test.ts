// The fix-it wizard end to end through the UI: the built renderer served by the web shell (in
// this process, with a temporary DECOMPOSER_HOME), driven in Chromium. Makes a tiny faulty
// demo model from the page, sees its confusion matrix and the proposed pair, runs the four
// repair options (option 1 with the demo's clean model) with tiny settings, sees the
// comparison (Table 6) with its recommendation, saves the result under a name, and evaluates
// the saved classifier from the list. Screenshots of every step go to test-results/wizard-*.png.
// Each step runs alone too (see ensureDemo, ensureCompared).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { WebShell } from '../../src/web/server.ts';
import type { JobOf } from '../../src/core/common/api.ts';
import { RESULTS_DIR, startUiSession, type UiSession } from './browser.ts';
import { finished, until } from '../helpers/jobs.ts';
import { FAULTY_DEMO_PAIR } from '../../src/core/node/wizard/index.ts';

describe('the fix-it wizard end to end (web shell + Chromium)', () => {
  let session: UiSession;
  let home: string;
  let shell: WebShell;
  let page: Page;
  let problems: string[];

  before(async () => {
    session = await startUiSession('wizard-ui');
    ({ home, shell, page, problems } = session);
  });

  after(async () => {
    await session?.close();
  });

  // A full-page screenshot taken while a field has focus leaves Chromium to scroll the page when
  // that field loses focus, which moves the next button away from under the click: blur first.
  async function shot(name: string): Promise<void> {
    await page.evaluate('document.activeElement?.blur()');
    await page.screenshot({ path: path.join(RESULTS_DIR, `wizard-${name}.png`), fullPage: true });
  }

  // Each step also runs alone: what it needs (the faulty demo model, a finished wizard run) is
  // made through the API when no earlier step made it, and the page is opened fresh (it picks
  // up the session's latest demo and wizard jobs, as after a reload).
  const DEMO = { depth: 8, epochs: 2, perClass: 24 };
  async function ensureDemo(): Promise<{ modelDir: string; betterDir: string }> {
    const done = (await session.api.listJobs()).find(
      (j): j is JobOf<'faulty'> => j.kind === 'faulty' && j.status === 'finished',
    );
    const job = done ?? (await until(session.api, await session.api.startFaultyDemo(DEMO)));
    finished(job);
    return { modelDir: job.result!.modelDir, betterDir: job.result!.betterDir! };
  }
  async function openWizard(): Promise<void> {
    await page.goto(`${shell.url}#/wizard`);
    await page.getByTestId('confusion-matrix').waitFor({ timeout: 60_000 });
  }
  async function tinySettings(): Promise<void> {
    await page.getByTestId('wizard-form').getByText('Advanced', { exact: true }).click();
    await page.getByTestId('pair-depth').selectOption('8');
    await page.getByTestId('pair-epochs').fill('1');
    await page.getByTestId('wizard-per-class').fill('10');
  }
  async function ensureCompared(): Promise<void> {
    if ((await session.api.listJobs()).some((j) => j.kind === 'wizard' && j.status === 'finished')) return;
    const demo = await ensureDemo();
    const { victim, faulty } = FAULTY_DEMO_PAIR;
    const job = await session.api.startWizard({
      modelDir: demo.modelDir,
      faulty,
      victim,
      options: [1, 2, 3, 4],
      betterModel: demo.betterDir,
      pairDepth: 8,
      pairEpochs: 1,
      perClass: 10,
      seed: 1,
    });
    finished(await until(session.api, job));
  }

  test('the page is in the navigation and offers a faulty demo model', async () => {
    await page.goto(shell.url);
    await page.getByRole('link', { name: 'Fix-it wizard' }).click();
    await page.getByRole('heading', { name: '1. Find the fault' }).waitFor();
    await page.getByText('No models yet').waitFor();
    assert.equal(await page.getByTestId('make-demo').isEnabled(), true);
    await shot('empty');
  });

  test('step 1: a tiny faulty demo model, its confusion matrix and the proposed pair', async () => {
    await page.goto(`${shell.url}#/wizard`);
    const demo = page.getByTestId('faulty-demo');
    await demo.getByText('Advanced', { exact: true }).click();
    await page.getByTestId('demo-depth').selectOption('8');
    await page.getByTestId('demo-epochs').fill('2');
    await page.getByTestId('demo-per-class').fill('24');
    await page.getByTestId('make-demo').click();
    await demo.getByRole('progressbar').waitFor({ timeout: 60_000 });
    await shot('demo-training');
    await demo.locator('[data-testid="job"][data-status="finished"]').waitFor({ timeout: 180_000 });
    await page.getByTestId('demo-fault').waitFor();
    assert.match(
      (await page.getByTestId('demo-fault').textContent()) ?? '',
      /\d+ of \S+'s training images \(\d+\.\d%\) were labelled \S+/,
    );

    const matrix = page.getByTestId('confusion-matrix');
    await matrix.waitFor({ timeout: 60_000 });
    assert.equal(await matrix.getByRole('rowheader').count(), 10, 'one row per class of shapes');
    assert.ok((await matrix.getByRole('rowheader').allTextContents()).includes('star-5'));
    assert.match(
      (await page.getByTestId('fault-accuracy').textContent()) ?? '',
      /top-1 \d+\.\d%, top-5\s+\d+\.\d%/,
    );
    const faulty = await page.getByTestId('wizard-faulty').inputValue();
    const victim = await page.getByTestId('wizard-victim').inputValue();
    assert.notEqual(faulty, victim, 'a pair is proposed');
    assert.match(
      (await page.getByTestId('fault-sentence').textContent()) ?? '',
      /\d+% of \S+'s test images are predicted\s+as\s+\S+/,
    );
    // The demo's model starts on the pair the demo planted (rings labelled circles), even where
    // a model this small confuses another pair more.
    assert.equal(await page.getByTestId('wizard-victim').locator('option:checked').textContent(), 'ring');
    assert.equal(await page.getByTestId('wizard-faulty').locator('option:checked').textContent(), 'circle');
    const model = page.getByTestId('wizard-model');
    assert.match((await model.locator('option:checked').textContent()) ?? '', /faulty demo model/);
    await shot('fault');
  });

  test('step 2: four options with the demo’s clean model as option 1’s, and tiny settings', async () => {
    await ensureDemo();
    await openWizard();
    for (const o of [1, 2, 3, 4]) assert.equal(await page.getByTestId(`option-${o}`).isChecked(), true);
    const better = page.getByTestId('better-model');
    assert.match((await better.locator('option:checked').textContent()) ?? '', /clean model/);
    await tinySettings();
    assert.equal(await page.getByTestId('wizard-problems').locator('li').count(), 0);
    await shot('options');
  });

  test('steps 3-4: the run shows its progress and ends in the comparison with a recommendation', async () => {
    await ensureDemo();
    await openWizard();
    await tinySettings();
    await page.getByTestId('run-wizard').click();
    const step3 = page.getByTestId('wizard-step-3');
    await step3.getByTestId('job').waitFor({ timeout: 30_000 });
    if ((await step3.getByTestId('job').getAttribute('data-status')) === 'running') {
      await step3.getByRole('button', { name: 'Cancel' }).waitFor();
      await shot('running');
    }
    await step3.locator('[data-testid="job"][data-status="finished"]').waitFor({ timeout: 300_000 });
    const table = page.getByTestId('wizard-table');
    await table.waitFor();
    const rows = table.locator('tbody tr');
    const names = (await rows.locator('th').allTextContents()).map((t) => t.trim());
    assert.match(names[0] ?? '', /^Initial model/);
    assert.match(names[1] ?? '', /^Composed modules/);
    const options = names.filter((n) => /^Option \d/.test(n));
    const skipped = await page.getByTestId('wizard-skipped').locator('li').count();
    assert.equal(options.length + skipped, 4, 'every option either ran or says why not');
    for (const o of [2, 3, 4])
      assert.ok(
        options.some((n) => n.startsWith(`Option ${o}:`)),
        `option ${o} ran`,
      );
    const header = (await table.locator('thead').textContent()) ?? '';
    assert.match(header, /called/);
    assert.match(header, /Other classes top-1/);
    assert.match(header, /kg CO2e/);
    assert.match((await rows.nth(2).textContent()) ?? '', /\d+\.\d%/);
    const recommendation = page.getByTestId('recommendation');
    assert.match((await recommendation.textContent()) ?? '', /Recommended: option \d/);
    assert.equal(await table.locator('tr.recommended').count(), 1, 'the recommended row is highlighted');
    await shot('compare');
  });

  test('step 5: the result is saved under a name, listed, and evaluates', async () => {
    await ensureCompared();
    await openWizard();
    await page.getByTestId('recommendation').waitFor({ timeout: 60_000 });
    const name = page.getByTestId('save-name');
    assert.match(await name.inputValue(), /^repaired-[A-Za-z0-9._-]+-option-\d$/);
    const recommended = (await page.getByTestId('recommendation').textContent())?.match(/option (\d)/)?.[1];
    assert.equal(await page.getByTestId('save-option').inputValue(), recommended);
    await name.fill('e2e-fix');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const saved = page.getByTestId('saved');
    await saved.waitFor({ timeout: 60_000 });
    assert.match((await saved.textContent()) ?? '', /e2e-fix/);
    const dir = (await saved.locator('code').textContent()) ?? '';
    assert.ok(dir.startsWith(home), `saved under the data folder (${dir})`);
    assert.ok(existsSync(dir), 'the saved folder exists');

    const row = page.getByTestId('repaired-list').getByTestId('repaired-row').filter({ hasText: 'e2e-fix' });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /called/);
    await row.getByRole('button', { name: 'Evaluate e2e-fix' }).click();
    const ev = row.getByTestId('repaired-eval');
    await ev.getByText(/top-1 \d+\.\d%/).waitFor({ timeout: 60_000 });
    assert.match((await ev.textContent()) ?? '', /top-5 \d+\.\d%.*called.*\d+\.\d%/s);
    await shot('saved');
    assert.deepEqual(problems, [], 'the page logged errors');
  });
});
