// A training cancelled and resumed, then picked, in Chromium through the web shell: the
// Models page starts a long training and cancels it once an epoch is saved, the cancelled
// run's page resumes it (then cancels that too), and from then on the model is one model:
// the first run's page no longer offers "Resume training" but names the run that continued
// it, and the Decompose, Reuse and Fix-it pickers list the model once (its latest run) and
// decompose it. Runs alone: it makes its own runs on a fresh data folder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { RESULTS_DIR, startUiSession, type UiSession } from './browser.ts';

describe('a cancelled training, resumed, then picked (web shell + Chromium)', () => {
  let session: UiSession;
  let page: Page;

  before(async () => {
    session = await startUiSession('resume');
    page = session.page;
  });

  after(async () => {
    await session?.close();
  });

  const open = (route: string) => page.goto(`${session.shell.url}#/${route}`);

  /**
   * Cancels the running job in `where` once an epoch has finished since it was first seen
   * training (so that epoch is saved). Epochs of this tiny set last a fraction of a second,
   * so the page's stage is read as it moves on rather than waited on for one exact epoch.
   */
  async function cancelAfterAnEpoch(where: Locator): Promise<void> {
    const deadline = Date.now() + 300_000;
    let seen: number | null = null;
    for (;;) {
      const stage = /Training epoch (\d+)\/200/.exec((await where.textContent()) ?? '');
      const epoch = stage ? Number(stage[1]) : null;
      seen ??= epoch;
      if (seen !== null && epoch !== null && epoch > seen) break;
      assert.ok(Date.now() < deadline, `no epoch finished (last stage: ${stage?.[0] ?? 'none'})`);
      await page.waitForTimeout(50);
    }
    await where.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('[data-testid="job"][data-status="cancelled"]').waitFor({ timeout: 60_000 });
  }

  /** The model folders a picker offers (its non-empty options' values). */
  async function offered(select: Locator): Promise<string[]> {
    await select.locator('option').first().waitFor({ state: 'attached' });
    const options = select.locator('option');
    const values: string[] = [];
    for (let i = 0; i < (await options.count()); i++)
      values.push(await options.nth(i).evaluate((o) => (o as unknown as { value: string }).value));
    return values.filter((v) => v !== '');
  }

  test('cancel, resume, cancel: one model in every picker, and the first run is no longer resumable', async () => {
    // Train through the page, and cancel once an epoch is saved (its checkpoint is the model).
    await open('models');
    const form = page.getByTestId('train-form');
    await page.getByTestId('train-dataset').selectOption({ index: 0 });
    await form.getByLabel('Depth').selectOption('8');
    await form.getByLabel('Epochs').fill('200');
    await form.getByLabel('Augmentation').uncheck();
    await form.getByText('Advanced').click();
    await page.getByTestId('per-class').fill('20');
    await form.getByLabel('Batch size').fill('16');
    await form.getByRole('button', { name: 'Start training' }).click();
    await cancelAfterAnEpoch(page.getByTestId('job').first());
    const [first] = (await session.api.listRuns()).filter((r) => r.kind === 'train');
    assert.ok(first && first.status === 'cancelled', 'the training was cancelled');

    // Its page resumes it; cancel the resumed run too, once it has saved an epoch of its own.
    await open(`run/${first.id}`);
    await page.getByRole('button', { name: 'Resume training' }).click();
    await cancelAfterAnEpoch(page.getByTestId('job').first());
    const runs = (await session.api.listRuns()).filter((r) => r.kind === 'train');
    assert.equal(runs.length, 2, 'the resumed training is a second run');
    const second = runs.find((r) => r.id !== first.id)!;
    const dir = (r: { result: unknown }) => (r.result as { model_dir?: string } | null)?.model_dir;
    assert.ok(dir(first), 'the first run made a model');
    assert.equal(dir(second), dir(first), 'both runs made the same model folder');

    // The first run now names the run that continued it, and offers no resume.
    await page.reload();
    await page.getByTestId('run-continued').waitFor();
    assert.match((await page.getByTestId('run-continued').textContent()) ?? '', new RegExp(`#${second.id}`));
    assert.equal(await page.getByRole('button', { name: 'Resume training' }).count(), 0);
    // The run that continued it is the one to resume.
    await open(`run/${second.id}`);
    await page.getByRole('button', { name: 'Resume training' }).waitFor();

    // Every picker lists the model once, as its latest run.
    for (const [route, testid] of [
      ['reuse', 'model-a'],
      ['wizard', 'wizard-model'],
      ['decompose', 'decompose-model'],
    ] as const) {
      await open(route);
      const select = page.getByTestId(testid);
      await select.waitFor();
      assert.deepEqual(await offered(select), [dir(first)], `${route} offers the model once`);
      assert.match(
        (await select.textContent()) ?? '',
        new RegExp(`#${second.id} `),
        `${route} names its latest run`,
      );
    }
    await page.screenshot({ path: path.join(RESULTS_DIR, 'resume-decompose.png'), fullPage: true });

    // And the picked model decomposes.
    const decompose = page.getByTestId('decompose-form');
    await decompose.getByLabel('Sample size per class').fill('5');
    await decompose.getByRole('button', { name: 'Decompose' }).click();
    await page.locator('[data-testid="job"][data-status="finished"]').waitFor({ timeout: 300_000 });
    await page.getByTestId('table1').waitFor();
    assert.deepEqual(session.problems, [], 'the page logged errors (a duplicate key would show here)');
  });
});
