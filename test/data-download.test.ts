// Download tests: only ever against a loopback server on 127.0.0.1 that this file starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Progress } from '../src/core/common/dataset.ts';
import { isUserError } from '../src/core/common/errors.ts';
import { downloadDataset } from '../src/core/node/data/index.ts';
import { tempDir } from './helpers/temp.ts';

const tmp = tempDir('dl');
let n = 0;
const dir = (): string => {
  const d = path.join(tmp, `d${n++}`);
  mkdirSync(d);
  return d;
};

const body = randomBytes(300_000);
const md5 = createHash('md5').update(body).digest('hex');
const sha256 = createHash('sha256').update(body).digest('hex');

interface Server {
  url: string;
  ranges: (string | undefined)[];
  close: () => Promise<void>;
  /** Cut the next N responses after this many bytes. */
  cutNext: { count: number; after: number };
}

async function serve(): Promise<Server> {
  const ranges: (string | undefined)[] = [];
  const cutNext = { count: 0, after: 0 };
  const server = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    if (req.url === '/moved.tar.gz') {
      res.writeHead(302, { location: '/cifar-10-binary.tar.gz' });
      res.end();
      return;
    }
    if (req.url !== '/cifar-10-binary.tar.gz') {
      res.writeHead(404);
      res.end();
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { 'content-length': body.length });
    }
    const rest = body.subarray(start);
    if (cutNext.count > 0) {
      cutNext.count--;
      res.write(rest.subarray(0, cutNext.after), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ranges,
    cutNext,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('download: progress with bytes/total, md5 verified, redirect followed, second call finds it', async () => {
  const s = await serve();
  try {
    const destDir = dir();
    const seen: Progress[] = [];
    const r = await downloadDataset('cifar10', {
      destDir,
      url: `${s.url}/moved.tar.gz`,
      md5,
      onProgress: (p) => seen.push(p),
    });
    assert.equal(r.path, path.join(destDir, 'moved.tar.gz'));
    assert.deepEqual(readFileSync(r.path), body);
    assert.deepEqual(r.verified, { algorithm: 'md5', hex: md5 });
    assert.equal(r.resumed, false);
    assert.ok(!existsSync(`${r.path}.part`));
    const last = seen.filter((p) => p.bytes !== undefined).at(-1)!;
    assert.equal(last.bytes, body.length);
    assert.equal(last.totalBytes, body.length);
    assert.ok(seen.some((p) => p.stage === 'Verifying checksum'));
    const again = await downloadDataset('cifar10', { destDir, url: `${s.url}/moved.tar.gz`, sha256 });
    assert.equal(again.alreadyPresent, true);
  } finally {
    await s.close();
  }
});

test('download: a connection cut mid-way keeps the .part, and the next call resumes with Range', async () => {
  const s = await serve();
  try {
    const destDir = dir();
    const url = `${s.url}/cifar-10-binary.tar.gz`;
    s.cutNext.count = 1;
    s.cutNext.after = 100_000;
    await assert.rejects(downloadDataset('cifar10', { destDir, url, sha256, retries: 0 }), (e) => {
      assert.ok(isUserError(e));
      assert.equal(e.code, 'download-interrupted');
      assert.match(e.hint, /resume/);
      return true;
    });
    const part = path.join(destDir, 'cifar-10-binary.tar.gz.part');
    assert.equal(statSync(part).size, 100_000);
    const seen: Progress[] = [];
    const r = await downloadDataset('cifar10', { destDir, url, sha256, onProgress: (p) => seen.push(p) });
    assert.equal(r.resumed, true);
    assert.equal(s.ranges.at(-1), 'bytes=100000-');
    assert.deepEqual(readFileSync(r.path), body);
    assert.ok(!existsSync(part));
    assert.ok(seen.filter((p) => p.bytes !== undefined).every((p) => p.bytes! >= 100_000));

    // Automatic resume within one call.
    const destDir2 = dir();
    s.cutNext.count = 2;
    s.cutNext.after = 70_000;
    const r2 = await downloadDataset('cifar10', { destDir: destDir2, url, md5 });
    assert.deepEqual(readFileSync(r2.path), body);
    assert.equal(s.ranges.at(-1), 'bytes=140000-');
  } finally {
    await s.close();
  }
});

test('download: a checksum mismatch deletes only the download and says so', async () => {
  const s = await serve();
  try {
    const destDir = dir();
    writeFileSync(path.join(destDir, 'keep.txt'), 'mine');
    await assert.rejects(
      downloadDataset('cifar10', {
        destDir,
        url: `${s.url}/cifar-10-binary.tar.gz`,
        md5: 'c32a1d4ab5d03f1284b67883e8d87530',
      }),
      (e) => {
        assert.ok(isUserError(e));
        assert.equal(e.code, 'checksum-mismatch');
        assert.ok(e.message.includes(md5) && e.message.includes('c32a1d4ab5d03f1284b67883e8d87530'));
        assert.match(e.message, /nothing else/);
        return true;
      },
    );
    assert.ok(!existsSync(path.join(destDir, 'cifar-10-binary.tar.gz')));
    assert.ok(!existsSync(path.join(destDir, 'cifar-10-binary.tar.gz.part')));
    assert.equal(readFileSync(path.join(destDir, 'keep.txt'), 'utf8'), 'mine');
  } finally {
    await s.close();
  }
});

test('download: unreachable server and HTTP errors are UserErrors', async () => {
  const s = await serve();
  const url = s.url;
  await assert.rejects(
    downloadDataset('cifar10', { destDir: dir(), url: `${url}/nothing-here.tar.gz` }),
    (e) => isUserError(e) && e.code === 'http-error' && e.message.includes('404'),
  );
  await s.close();
  const destDir = dir();
  await assert.rejects(
    downloadDataset('cifar100', { destDir, url: `${url}/cifar-100-binary.tar.gz` }),
    (e) => {
      assert.ok(isUserError(e));
      assert.equal(e.code, 'offline');
      assert.match(e.message, /network is unreachable/);
      assert.ok(e.hint.includes(path.join(destDir, 'cifar-100-binary.tar.gz')));
      return true;
    },
  );
});
