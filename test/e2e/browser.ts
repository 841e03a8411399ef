// The browser tests' shared set-up: the built renderer served by the web shell (in this
// process, over a core API on a temporary data folder) and Debian's Chromium with the flags
// this machine needs, console errors collected.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import type { CoreApi } from '../../src/core/node/api.ts';
import { quickApi } from '../helpers/jobs.ts';
import { startWebShell, type WebShell } from '../../src/web/server.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
export const RENDERER_DIR = path.join(root, 'out', 'renderer');
export const RESULTS_DIR = path.join(root, 'test-results');
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export function assertBuilt(): void {
  assert.ok(
    existsSync(path.join(RENDERER_DIR, 'index.html')),
    `No built renderer at ${RENDERER_DIR}: run \`npm run build\` first.`,
  );
}

export async function launchChromium(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM_PATH),
    `No Chromium at ${CHROMIUM_PATH}: run \`apt-get install chromium\` or set CHROMIUM_PATH.`,
  );
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Collects the page's console errors and uncaught exceptions (except those `expected` matches). */
export function collectProblems(page: Page, expected?: RegExp): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected?.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return problems;
}

export interface UiSession {
  home: string;
  api: CoreApi;
  shell: WebShell;
  browser: Browser;
  page: Page;
  problems: string[];
  close(): Promise<void>;
}

/** A web shell on a fresh data folder (tiny, quick runs: no idle measurement, one engine worker) and a page. */
export async function startUiSession(name: string, expectedConsole?: RegExp): Promise<UiSession> {
  assertBuilt();
  const { home, api } = await quickApi(name);
  const shell = await startWebShell({ port: 0, rendererDir: RENDERER_DIR, api });
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  mkdirSync(RESULTS_DIR, { recursive: true });
  return {
    home,
    api,
    shell,
    browser,
    page,
    problems: collectProblems(page, expectedConsole),
    async close() {
      await browser.close();
      await shell.close();
      await api.close();
    },
  };
}
