// The comparison users come for, end to end: a tiny demo runs through the app's API (its
// baselines trained until they stop improving, at most a few epochs here), then Home shows
// the demo's Figure 6, its experiment page lists its runs in their roles with the same chart,
// and Compare draws the picked experiment's scenarios side by side. Screenshots of each go to
// test-results/. Runs alone: it makes its own demo on a fresh data folder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { RESULTS_DIR, startUiSession, type UiSession } from './browser.ts';
import { finished, until } from '../helpers/jobs.ts';

describe('Figure 6 in the app (web shell + Chromium)', () => {
  let session: UiSession;
  let experimentId: number;

  before(async () => {
    session = await startUiSession('fig6');
    await session.api.setSetting('baselineMaxEpochs', 3);
    await session.api.setSetting('baselinePatience', 1);
    const job = await session.api.runDemo({ epochs: 1, depth: 8, perClass: 8 });
    finished(await until(session.api, job));
    const demo = (await session.api.listExperiments()).find((e) => e.kind === 'demo');
    assert.ok(demo, 'the demo is an experiment');
    experimentId = demo.id;
  });

  after(async () => {
    await session?.close();
  });

  const shot = (name: string) =>
    session.page.screenshot({ path: path.join(RESULTS_DIR, `figure6-${name}.png`), fullPage: true });

  test("home shows the demo's scenarios as Figure 6 and lists the demo experiment", async () => {
    const { page, shell } = session;
    await page.goto(`${shell.url}#/home`);
    const fig = page.getByTestId('figure6');
    await fig.waitFor();
    // Four scenarios (reuse and replace, intra and inter), four bars each.
    assert.equal(await fig.locator('g.fig6-scenario').count(), 4);
    assert.equal(await fig.locator('rect.fig6-bar').count(), 16);
    // No power counter here: every figure is an estimate, and hatched.
    assert.ok((await fig.locator('rect.fig6-estimate').count()) > 0);
    await page
      .getByTestId('experiment-list')
      .getByRole('link', { name: /^Demo:/ })
      .waitFor();
    await shot('home');
    assert.deepEqual(session.problems, []);
  });

  test("the demo's experiment page shows its runs in their roles and the chart", async () => {
    const { page, shell } = session;
    await page.goto(`${shell.url}#/experiment/${experimentId}`);
    const runs = page.getByTestId('experiment-runs');
    await runs.waitFor();
    const text = await runs.textContent();
    for (const role of [
      'model training',
      'decomposition',
      'reuse',
      'replace',
      'baseline (trained from scratch)',
    ])
      assert.ok(text?.includes(role), `${role} in ${text}`);
    assert.equal(await page.getByTestId('figure6').locator('g.fig6-scenario').count(), 4);
    await shot('experiment');
    // A run's page links back to its experiment.
    await runs.getByRole('link').first().click();
    await page.getByTestId('run-experiment').click();
    await page.getByTestId('experiment-runs').waitFor();
    assert.deepEqual(session.problems, []);
  });

  test('Compare draws the picked experiment, and a scenario left out disappears', async () => {
    const { page, shell } = session;
    await page.goto(`${shell.url}#/compare`);
    await page.getByTestId('compare-experiments').getByRole('checkbox').first().check();
    const fig = page.getByTestId('figure6');
    await fig.waitFor();
    assert.equal(await fig.locator('g.fig6-scenario').count(), 4);
    await page.getByTestId('compare-scenarios').getByRole('checkbox').first().uncheck();
    // The chart redraws from the page's state: wait for it.
    for (let i = 0; i < 50 && (await fig.locator('g.fig6-scenario').count()) !== 3; i++)
      await page.waitForTimeout(100);
    assert.equal(await fig.locator('g.fig6-scenario').count(), 3);
    await shot('compare');
    assert.deepEqual(session.problems, []);
  });
});
