// End to end: the built renderer, served by the web shell with the real core API, opened in
// Chromium. Needs `npm run build` first (the test script does it) and a Chromium binary.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { createCoreApi } from '../../src/core/node/api.ts';
import { startWebShell, TOKEN_HEADER } from '../../src/web/server.ts';
import type { WebShell } from '../../src/web/server.ts';
import { assertBuilt, collectProblems, launchChromium, RENDERER_DIR, RESULTS_DIR } from './browser.ts';
import { tempDir } from '../helpers/temp.ts';

/** A raw request, so that paths reach the server exactly as written (no URL normalisation). */
function raw(
  port: number,
  method: string,
  rawPath: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: rawPath, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('web shell and page', () => {
  let shell: WebShell;
  // A temporary data folder: the page lists jobs and runs, which opens the store.
  const api = createCoreApi({ home: tempDir('page') });

  before(async () => {
    assertBuilt();
    shell = await startWebShell({ port: 0, rendererDir: RENDERER_DIR, api });
  });

  after(async () => {
    await shell?.close();
    await api.close();
  });

  test('the page shows the active backend, the machine and the embedded datasets', async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const problems = collectProblems(page);
      await page.goto(`${shell.url}#/settings`);

      const expected = (await createCoreApi().getSystemInfo()).backend.active;
      const backend = page.getByTestId('active-backend');
      await backend.waitFor({ timeout: 60_000 });
      assert.equal((await backend.textContent())?.trim(), expected);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Decomposer');
      // Why the faster backends are not active is on the page.
      const backends = await page
        .getByRole('list', { name: 'Backends in order of preference' })
        .textContent();
      assert.match(backends ?? '', /tensorflow/);

      await page.getByRole('link', { name: 'Datasets' }).click();
      const table = page.getByTestId('datasets');
      await table.waitFor({ timeout: 30_000 });
      const text = (await table.textContent()) ?? '';
      for (const d of await createCoreApi().listDatasets())
        assert.ok(text.includes(d.name), `dataset ${d.name} not shown`);

      mkdirSync(RESULTS_DIR, { recursive: true });
      await page.screenshot({ path: path.join(RESULTS_DIR, 'page.png'), fullPage: true });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: path.join(RESULTS_DIR, 'page-dark.png'), fullPage: true });
      assert.deepEqual(problems, [], 'the page logged errors (a CSP violation would show here)');
    } finally {
      await browser?.close();
    }
  });

  test('API calls need the token', async () => {
    const json = { 'Content-Type': 'application/json' };
    const none = await raw(shell.port, 'POST', '/api/getSystemInfo', json, '{"args":[]}');
    assert.equal(none.status, 403);
    const wrong = await raw(
      shell.port,
      'POST',
      '/api/getSystemInfo',
      { ...json, [TOKEN_HEADER]: 'x'.repeat(shell.token.length) },
      '{"args":[]}',
    );
    assert.equal(wrong.status, 403);
    const page = await raw(shell.port, 'GET', '/');
    assert.equal(page.status, 403);
    const events = await raw(shell.port, 'GET', '/api/events');
    assert.equal(events.status, 403);
    // Every method that starts or stops work needs the token too.
    for (const m of [
      'startTraining',
      'resumeTraining',
      'runDemo',
      'cancelJob',
      'setSetting',
      'downloadDataset',
      'importDataset',
    ]) {
      const r = await raw(shell.port, 'POST', `/api/${m}`, json, '{"args":[]}');
      assert.equal(r.status, 403, m);
    }
    const ok = await raw(
      shell.port,
      'POST',
      '/api/listDatasets',
      { ...json, [TOKEN_HEADER]: shell.token },
      '{"args":[]}',
    );
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as { ok: boolean }).ok, true);
  });

  test('unknown methods and bad arguments get 400 with a JSON error', async () => {
    const h = { 'Content-Type': 'application/json', [TOKEN_HEADER]: shell.token };
    for (const [p, body] of [
      ['/api/deleteEverything', '{"args":[]}'],
      ['/api/constructor', '{"args":[]}'],
      ['/api/__proto__', '{"args":[]}'],
      ['/api/getSystemInfo', '{"args":[1,2]}'],
      ['/api/getSystemInfo', '{"args":"x"}'],
      ['/api/getSystemInfo', '{not json'],
      ['/api/startTraining', '{"args":[{"dataset":"x","depth":7,"epochs":1,"seed":1,"augment":true}]}'],
      [
        '/api/startTraining',
        '{"args":[{"dataset":"x","depth":8,"epochs":1,"seed":1,"augment":true,"runDir":"/etc"}]}',
      ],
      ['/api/getRun', '{"args":["1 OR 1=1"]}'],
      ['/api/resumeTraining', '{"args":[-1]}'],
      ['/api/cancelJob', '{"args":["../../etc"]}'],
      ['/api/setSetting', '{"args":["dataHome","/tmp"]}'],
      ['/api/setSetting', '{"args":["workers",-1]}'],
      ['/api/previewDataset', '{"args":["x",1000]}'],
      ['/api/importDataset', '{"args":[{"kind":"folder","path":"a\u0000b"}]}'],
      ['/api/downloadDataset', '{"args":["https://evil.example/x"]}'],
      ['/api/runDemo', '{"args":[{"epochs":0}]}'],
    ] as const) {
      const r = await raw(shell.port, 'POST', p, h, body);
      assert.equal(r.status, 400, `${p} ${body}`);
      const parsed = JSON.parse(r.body) as { ok: boolean; error: { message: string } };
      assert.equal(parsed.ok, false);
      assert.ok(parsed.error.message);
    }
  });

  test('static files come only from the renderer folder', async () => {
    const q = `?token=${shell.token}`;
    assert.equal((await raw(shell.port, 'GET', `/${q}`)).status, 200);
    for (const p of [
      '/../package.json',
      '/..%2fpackage.json',
      '/%2e%2e/%2e%2e/package.json',
      '/assets/..%2F..%2F..%2Fpackage.json',
      '/..\\package.json',
      '/%00index.html',
    ]) {
      const r = await raw(shell.port, 'GET', `${p}${q}`);
      assert.ok(r.status === 403 || r.status === 404, `${p} answered ${r.status}`);
      assert.ok(!r.body.includes('"devDependencies"'), `${p} leaked package.json`);
    }
    const leaked = await raw(shell.port, 'GET', `/..%2f..%2fpackage.json${q}`);
    assert.equal(leaked.status, 403);
  });

  test('progress events reach subscribers as Server-Sent Events', async () => {
    const received = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: shell.port, path: `/api/events?token=${shell.token}` },
        (res) => {
          assert.equal(res.statusCode, 200);
          assert.match(String(res.headers['content-type']), /text\/event-stream/);
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            if (text.includes(': connected'))
              api.emitProgress({ jobId: 'job-1', progress: { stage: 'Training', fraction: 0.25 } });
            if (text.includes('event: progress')) {
              req.destroy();
              resolve(text);
            }
          });
        },
      );
      req.on('error', reject);
    });
    const data = /data: (.*)\n/.exec(received)?.[1];
    assert.deepEqual(JSON.parse(data ?? 'null'), {
      jobId: 'job-1',
      progress: { stage: 'Training', fraction: 0.25 },
    });
  });

  test('a foreign Host header is refused (DNS rebinding)', async () => {
    const r = await raw(shell.port, 'GET', `/?token=${shell.token}`, { Host: `evil.example:${shell.port}` });
    assert.equal(r.status, 421);
  });
});
