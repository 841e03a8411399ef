// The built Electron main process under plain Node, with `electron` replaced by a recording
// fake (the Electron binary cannot run here): window security settings, the app:// protocol,
// sender and argument validation on IPC, and calls reaching the core in the utility process.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { API_METHODS } from '../../src/core/common/api.ts';
import type { WireResult, SystemInfo } from '../../src/core/common/api.ts';
import { tempDir } from '../helpers/temp.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
// The core process writes its runs here, not in the user's data folder.
process.env['DECOMPOSER_HOME'] = tempDir('main');
const mainEntry = path.join(root, 'out', 'main', 'index.js');
const fakeUrl = pathToFileURL(path.join(import.meta.dirname, 'fake-electron.ts')).href;

registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'electron') return { url: fakeUrl, shortCircuit: true, format: 'module-typescript' };
    return next(specifier, context);
  },
});

const { fake } = (await import(fakeUrl)) as typeof import('./fake-electron.ts');

function frame(url: string, parent: unknown = null): { senderFrame: { url: string; parent: unknown } } {
  return { senderFrame: { url, parent } };
}

describe('Electron main (with a fake electron module)', () => {
  before(async () => {
    assert.ok(existsSync(mainEntry), `No built main process at ${mainEntry}: run \`npm run build\` first.`);
    await import(pathToFileURL(mainEntry).href);
    for (let i = 0; i < 100 && fake.windows.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  });

  test('one window, locked down, loading app:// with a preload that exists', () => {
    assert.equal(fake.windows.length, 1);
    const win = fake.windows[0]!;
    const prefs = (win.options as { webPreferences: Record<string, unknown> }).webPreferences;
    assert.equal(prefs['contextIsolation'], true);
    assert.equal(prefs['sandbox'], true);
    assert.equal(prefs['nodeIntegration'], false);
    assert.equal(prefs['webSecurity'], true);
    assert.ok(existsSync(String(prefs['preload'])), `preload ${String(prefs['preload'])} missing`);
    assert.equal(win.loadedUrl, 'app://decomposer/index.html');
    assert.deepEqual(
      fake.privilegedSchemes.map((s) => (s as { scheme: string }).scheme),
      ['app'],
    );
  });

  test('navigation, new windows and permissions are refused', () => {
    const wc = fake.windows[0]!.webContents;
    assert.deepEqual(wc.windowOpenHandler?.({ url: 'https://example.com' }), { action: 'deny' });
    // Links leave for the browser only to the allowed hosts (src/main/external.ts).
    assert.deepEqual(wc.windowOpenHandler?.({ url: 'https://www.cs.toronto.edu/~kriz/cifar.html' }), {
      action: 'deny',
    });
    assert.deepEqual(fake.opened, ['https://www.cs.toronto.edu/~kriz/cifar.html']);
    let prevented = false;
    wc.emit('will-navigate', { preventDefault: () => (prevented = true) }, 'https://example.com/');
    assert.equal(prevented, true);
    let granted: boolean | null = null;
    fake.permissionRequestHandler?.({}, 'media', (ok: boolean) => (granted = ok));
    assert.equal(granted, false);
  });

  test('app:// serves the built renderer only, with a CSP', async () => {
    const handle = fake.protocolHandlers.get('app')!;
    const index = await handle(new Request('app://decomposer/index.html'));
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(await index.text(), /<div id="app">/);
    for (const u of [
      'app://decomposer/..%2f..%2fpackage.json',
      'app://decomposer/%2e%2e/main/index.js',
      'app://other/index.html',
      'app://decomposer/nope.js',
    ]) {
      assert.equal((await handle(new Request(u))).status, 404, u);
    }
  });

  test('IPC: only our page may call, with the right arguments, and calls reach the core', async () => {
    const getInfo = fake.ipcHandlers.get('decomposer:getSystemInfo')!;
    assert.ok(getInfo);
    assert.deepEqual(
      [...fake.ipcHandlers.keys()].sort(),
      Object.keys(API_METHODS)
        .map((m) => `decomposer:${m}`)
        .sort(),
    );

    const foreign = (await getInfo(frame('https://evil.example/'))) as WireResult;
    assert.equal(foreign.ok, false);
    const sub = (await getInfo(frame('app://decomposer/index.html', {}))) as WireResult;
    assert.equal(sub.ok, false, 'a subframe must not call');
    const bad = (await getInfo(frame('app://decomposer/index.html'), 'extra')) as WireResult;
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.equal(bad.error.code, 'bad-request');

    const ok = (await getInfo(frame('app://decomposer/index.html'))) as WireResult<SystemInfo>;
    assert.equal(ok.ok, true, JSON.stringify(ok));
    if (ok.ok) assert.ok(['onnxruntime', 'tensorflow', 'wasm', 'cpu'].includes(ok.value.backend.active));
    assert.deepEqual(fake.forks, [path.join(root, 'out', 'main', 'worker.js')]);
  });

  test('a training through IPC trains in the built core process: its engine threads start from the bundle', async () => {
    const app = frame('app://decomposer/index.html');
    const call = async <T>(method: string, ...args: unknown[]): Promise<T> => {
      const r = (await fake.ipcHandlers.get(`decomposer:${method}`)!(app, ...args)) as WireResult<T>;
      assert.ok(r.ok, `${method}: ${JSON.stringify(r)}`);
      return (r as { ok: true; value: T }).value;
    };
    await call('setSetting', 'idleSeconds', 0);
    const datasets = await call<{ id: string; name: string }[]>('listDatasets');
    const shapes = datasets.find((d) => d.name.startsWith('shapes'))!;
    // Two engines: worker threads, started from the script the build put beside the bundle.
    for (const backend of ['onnxruntime', 'wasm']) {
      await call('setSetting', 'backend', backend);
      await call('setSetting', 'workers', 2);
      const job = await call<{ id: string }>('startTraining', {
        dataset: shapes.id,
        depth: 8,
        epochs: 1,
        seed: 1,
        augment: false,
        perClass: 8,
        batchSize: 16,
      });
      let j: { status: string; error: string | null } = { status: 'running', error: null };
      for (let i = 0; i < 1200 && j.status === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        j = (await call<{ id: string; status: string; error: string | null }[]>('listJobs')).find(
          (x) => x.id === job.id,
        )!;
      }
      assert.equal(j.status, 'finished', `${backend}: ${j.error}`);
    }
    await call('setSetting', 'backend', 'auto');
  });

  test('IPC: every new method validates its arguments before reaching the core', async () => {
    const app = frame('app://decomposer/index.html');
    const cases: [string, unknown[]][] = [
      ['startTraining', [{ dataset: 'x', depth: 9, epochs: 1, seed: 1, augment: true }]],
      ['startTraining', [{ dataset: 'x', depth: 8, epochs: 1, seed: 1, augment: true, evil: 1 }]],
      ['startTraining', []],
      ['getRun', ['1; DROP TABLE runs']],
      ['cancelJob', [{}]],
      ['setSetting', ['__proto__', 1]],
      ['setSetting', ['pue', 'high']],
      ['previewDataset', ['shapes', 1000]],
      ['importDataset', [{ kind: 'folder', path: '' }]],
      ['downloadDataset', ['http://evil.example/x.tar.gz']],
      ['pickPath', ['anything']],
    ];
    for (const [method, args] of cases) {
      const handler = fake.ipcHandlers.get(`decomposer:${method}`)!;
      const r = (await handler(app, ...args)) as WireResult;
      assert.equal(r.ok, false, `${method} ${JSON.stringify(args)}`);
      if (!r.ok) assert.equal(r.error.code, 'bad-request');
    }
    const foreign = (await fake.ipcHandlers.get('decomposer:cancelJob')!(
      frame('https://evil.example/'),
      'job-1',
    )) as WireResult;
    assert.equal(foreign.ok, false);
    if (!foreign.ok) assert.equal(foreign.error.code, 'forbidden');
  });

  test('IPC: pickPath opens the native dialog in main, not in the core', async () => {
    const r = (await fake.ipcHandlers.get('decomposer:pickPath')!(
      frame('app://decomposer/index.html'),
      'file',
    )) as WireResult<string | null>;
    assert.deepEqual(r, { ok: true, value: '/picked/cifar-10-binary.tar.gz' });
    assert.equal(fake.dialogs.length, 1);
  });
});

describe('preload (sandboxed, run in a bare context)', () => {
  test('exposes exactly the typed API and unwraps results and errors', async () => {
    const file = path.join(root, 'out', 'preload', 'index.cjs');
    assert.ok(existsSync(file), 'run `npm run build` first');
    const code = readFileSync(file, 'utf8');
    const required: string[] = [];
    const exposed = new Map<string, Record<string, (...a: unknown[]) => unknown>>();
    const invoked: unknown[][] = [];
    const listeners = new Map<string, (...a: unknown[]) => void>();
    const fakeElectron = {
      contextBridge: {
        exposeInMainWorld: (key: string, api: Record<string, (...a: unknown[]) => unknown>) =>
          exposed.set(key, api),
      },
      ipcRenderer: {
        invoke: async (channel: string, ...args: unknown[]) => {
          invoked.push([channel, ...args]);
          if (channel === 'decomposer:listDatasets')
            return { ok: false, error: { message: 'No data.', hint: 'Add some.', code: 'x' } };
          return { ok: true, value: { app: 'Decomposer' } };
        },
        on: (channel: string, l: (...a: unknown[]) => void) => listeners.set(channel, l),
        removeListener: (channel: string) => listeners.delete(channel),
      },
    };
    // A sandboxed preload may only require electron (and a few Node built-ins Electron polyfills).
    const sandbox = {
      require: (id: string) => {
        required.push(id);
        if (id !== 'electron') throw new Error(`sandboxed preload cannot require ${id}`);
        return fakeElectron;
      },
      module: { exports: {} },
      exports: {},
      Promise,
      Error,
      TypeError,
    };
    vm.runInNewContext(code, sandbox, { filename: file });
    assert.deepEqual(required, ['electron']);
    const api = exposed.get('decomposer')!;
    assert.deepEqual(Object.keys(api).sort(), [...Object.keys(API_METHODS), 'onProgress'].sort());
    assert.deepEqual(await api['getSystemInfo']!(), { app: 'Decomposer' });
    assert.deepEqual(invoked, [['decomposer:getSystemInfo']]);
    await assert.rejects(api['listDatasets']!() as Promise<unknown>, { message: 'No data. Add some.' });
    // Bad arguments are refused before anything crosses to main.
    await assert.rejects(api['getRun']!('x') as Promise<unknown>, /getRun/);
    assert.equal(invoked.length, 2);

    const seen: unknown[] = [];
    const off = api['onProgress']!((e: unknown) => seen.push(e)) as () => void;
    const l = listeners.get('decomposer:progress')!;
    l({}, { jobId: 'j', progress: { stage: 's', fraction: 0.5 } });
    l({}, { bogus: true });
    off();
    assert.equal(listeners.has('decomposer:progress'), false);
    assert.equal(seen.length, 1);
  });
});
