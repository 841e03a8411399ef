// The real desktop app through Playwright's Electron driver: the window opens, the preload
// API is present, an IPC round trip reaches the core, and a tiny demo job runs. These need
// the Electron binary, which `npm install` does not download (Electron fetches it at first
// start); where it is missing, or there is no display, each test is reported as skipped,
// never as passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { tempDir } from '../helpers/temp.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

function electronBinary(): string | null {
  const dir = path.join(root, 'node_modules', 'electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const exe = path.join(
    process.env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(dir, 'dist'),
    readFileSync(pathFile, 'utf8').trim(),
  );
  return existsSync(exe) ? exe : null;
}

const binary = electronBinary();
const display = process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const why = !binary
  ? 'the Electron binary is not downloaded here (npx install-electron fetches it)'
  : !display
    ? 'no display (DISPLAY/WAYLAND_DISPLAY unset)'
    : !existsSync(path.join(root, 'out', 'main', 'index.js'))
      ? 'the app is not built (npm run build)'
      : null;

async function launch(): Promise<ElectronApplication> {
  const home = tempDir('electron');
  return electron.launch({
    executablePath: binary!,
    args: [root],
    cwd: root,
    env: { ...process.env, DECOMPOSER_HOME: home } as Record<string, string>,
  });
}

test(
  'the window opens with the typed API, and an IPC call reaches the core',
  { skip: why ?? false },
  async () => {
    const app = await launch();
    try {
      const page = await app.firstWindow();
      await page.waitForLoadState('domcontentloaded');
      assert.match(page.url(), /^app:\/\//);
      const methods = await page.evaluate(() =>
        Object.keys((globalThis as unknown as { decomposer: object }).decomposer).sort(),
      );
      assert.ok(methods.includes('getSystemInfo') && methods.includes('runDemo'));
      const info = await page.evaluate(() =>
        (
          globalThis as unknown as {
            decomposer: { getSystemInfo(): Promise<{ backend: { active: string } }> };
          }
        ).decomposer.getSystemInfo(),
      );
      assert.ok(['tensorflow', 'wasm', 'cpu'].includes(info.backend.active));
      // No Node in the page: the sandbox holds.
      assert.equal(
        await page.evaluate(() => typeof (globalThis as { require?: unknown }).require),
        'undefined',
      );
    } finally {
      await app.close();
    }
  },
);

test('a tiny demo job runs to the end in the desktop app', { skip: why ?? false }, async () => {
  const app = await launch();
  try {
    const page = await app.firstWindow();
    const status = await page.evaluate(async () => {
      const api = (
        globalThis as unknown as {
          decomposer: {
            runDemo(p: object): Promise<{ id: string }>;
            listJobs(): Promise<{ id: string; status: string }[]>;
          };
        }
      ).decomposer;
      const job = await api.runDemo({ depth: 8, epochs: 1, perClass: 4 });
      for (let i = 0; i < 600; i++) {
        const j = (await api.listJobs()).find((x) => x.id === job.id);
        if (j && j.status !== 'running') return j.status;
        await new Promise((r) => setTimeout(r, 500));
      }
      return 'timeout';
    });
    assert.equal(status, 'finished');
  } finally {
    await app.close();
  }
});
