// The web shell over HTTP, without a browser (a stub page stands in for the built renderer):
// what it refuses and how.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { MAX_CONNECTIONS, TOKEN_HEADER, type WebShell } from '../src/web/server.ts';
import { Store, defaultDbFile } from '../src/core/node/store/store.ts';
import { effectiveSettings } from '../src/core/node/store/settings.ts';
import type { CoreApi } from '../src/core/node/api.ts';
import { quickApi } from './helpers/jobs.ts';
import { tempDir } from './helpers/temp.ts';
import { servedAt, startCli } from './helpers/cli.ts';
import { stubShell } from './helpers/stub-shell.ts';

let shell: WebShell;
let api: CoreApi;
let home: string;

before(async () => {
  ({ home, api } = await quickApi('web'));
  shell = await stubShell(api);
});

after(async () => {
  await shell.close();
  await api.close();
});

const call = (method: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`http://127.0.0.1:${shell.port}/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: shell.token, ...headers },
    body,
  });

test('a setting that names a program (nvidia-smi) cannot be set through the API; only the command line or the environment sets it', async () => {
  const before = (
    (await (await call('getSettings', '{"args":[]}')).json()) as { value: { nvidiaSmi: string } }
  ).value.nvidiaSmi;
  const r = await call('setSetting', JSON.stringify({ args: ['nvidiaSmi', '/tmp/x.sh'] }));
  assert.equal(r.status, 400);
  const body = (await r.json()) as { ok: boolean; error: { message: string } };
  assert.equal(body.ok, false);
  assert.match(body.error.message, /nvidiaSmi names a program .*\(--nvidia-smi\).*DECOMPOSER_NVIDIA_SMI/);
  const after = (
    (await (await call('getSettings', '{"args":[]}')).json()) as { value: { nvidiaSmi: string } }
  ).value.nvidiaSmi;
  assert.equal(after, before);
  // Other settings still save.
  assert.equal((await call('setSetting', JSON.stringify({ args: ['pue', 1.3] }))).status, 200);

  // The store refuses it too, and ignores one planted there by an older version.
  const store = Store.open(defaultDbFile(home));
  try {
    assert.throws(
      () => store.settings.write('nvidiaSmi', '/tmp/x.sh'),
      (e: Error & { hint?: string }) => /names a program/.test(e.hint ?? ''),
    );
    store.write(() =>
      store.db
        .prepare(
          `INSERT OR REPLACE INTO settings (key, value_json, updated_at) VALUES ('nvidiaSmi', '"/tmp/x.sh"', 'x')`,
        )
        .run(),
    );
    assert.notEqual(store.settings.read().nvidiaSmi, '/tmp/x.sh');
    assert.equal(store.settings.read().pue, 1.3);
    // The command line (an override) and the environment still set it.
    assert.equal(
      effectiveSettings(store.settings, { nvidiaSmi: '/opt/nv/nvidia-smi' }, {}).nvidiaSmi,
      '/opt/nv/nvidia-smi',
    );
    assert.equal(
      effectiveSettings(store.settings, {}, { DECOMPOSER_NVIDIA_SMI: '/e/nvidia-smi' }).nvidiaSmi,
      '/e/nvidia-smi',
    );
  } finally {
    store.close();
  }
});

test('a body over the limit gets 413; a JSON body that is not an object is refused', async () => {
  const big = await call('getSettings', JSON.stringify({ args: [], pad: 'x'.repeat(2 << 20) }));
  assert.equal(big.status, 413);
  assert.match(((await big.json()) as { error: { message: string } }).error.message, /too large/);
  for (const body of ['[]', '42', '"args"', 'null', '{"args": {"0": 1}}']) {
    const r = await call('getSettings', body);
    assert.equal(r.status, 400, body);
    assert.match(
      ((await r.json()) as { error: { message: string } }).error.message,
      /JSON object|args/,
      body,
    );
  }
  assert.equal((await call('getSettings', '{"args": []}')).status, 200);
  assert.equal((await call('getSettings', '')).status, 200, 'an empty body is no arguments');
});

test(
  'a flood of half-sent requests cannot stop `decomposer serve`: a real request with the token still gets its answer',
  { skip: process.platform === 'win32' ? 'needs a POSIX shell for ulimit' : false },
  async () => {
    // The shell with few file descriptors (128), so that holding every half-sent request
    // would use them all up; the flood is three times that.
    const child = startCli(['serve'], { home: tempDir('web-flood'), shell: 'ulimit -n 128' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const flood: net.Socket[] = [];
    try {
      const url = await servedAt(child);
      const port = Number(url.port);
      const token = url.searchParams.get('token')!;
      let closed = 0;
      for (let i = 0; i < 384; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined); // the shell may close it: that is the point
        s.once('close', () => closed++);
        await new Promise<void>((resolve) => {
          s.once('connect', () => s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`, () => resolve()));
          s.once('close', () => resolve());
        });
        flood.push(s);
      }
      const answer = await fetch(`http://127.0.0.1:${port}/api/listRuns`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: token },
        body: '{"args":[]}',
        signal: AbortSignal.timeout(60_000),
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(await answer.json(), { ok: true, value: [] });
      // It held no more than its cap of them: the rest were closed to make room.
      for (let i = 0; i < 300 && closed < flood.length - MAX_CONNECTIONS; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.ok(closed >= flood.length - MAX_CONNECTIONS, `${closed} of ${flood.length} closed`);
      assert.equal(child.exitCode, null, 'the shell is still running');
    } finally {
      for (const s of flood) s.destroy();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    }
  },
);
