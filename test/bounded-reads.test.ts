// Nothing read is unbounded (issue #22, item 3): a dataset file that is not what it claims (a
// gzip bomb, a link to /dev/zero, a FIFO, an archive member larger than any batch) is refused
// at once with one message, through the CLI and the web shell where a user meets it; the
// process's memory stays bounded (measured), the user's files are as they were, the store
// still answers, and a FIFO never parks one of Node's few I/O threads (four of them used to
// leave the web shell unable to answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { idx, pixels } from './helpers/fixtures.ts';
import { folderState as snapshot, runCliBounded } from './helpers/bounded-cli.ts';
import { tempDir } from './helpers/temp.ts';

const linux = process.platform === 'linux';
const tmp = tempDir('reads');
let n = 0;
const fresh = (): string => {
  const d = path.join(tmp, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/**
 * A load that fails at its header needs little more than Node and the CLI themselves; what the
 * bugs cost was the size of the bomb (1 GiB here) or of memory itself.
 */
const PEAK_MIB = 400;

const NAMES = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

/** An MNIST release of 10 + 2 images, raw. */
function release(): string {
  const d = fresh();
  const files = [
    idx([10, 28, 28], pixels(10)),
    idx(
      [10],
      Uint8Array.from({ length: 10 }, (_, i) => i),
    ),
    idx([2, 28, 28], pixels(2)),
    idx([2], Uint8Array.of(1, 2)),
  ];
  files.forEach((b, i) => writeFileSync(path.join(d, NAMES[i]!), b));
  return d;
}

/** `parts` gzip members back to back: one gzip file (as gzip allows), whose parts expand separately. */
function gzipMembers(parts: Buffer[], zerosMiB: number): Buffer {
  const zeros = gzipSync(Buffer.alloc(1 << 20));
  return Buffer.concat([...parts.map((p) => gzipSync(p)), ...Array.from({ length: zerosMiB }, () => zeros)]);
}

test(
  'a gzip bomb, a link to /dev/zero, a FIFO or an oversized archive member is refused at once by `train`: one message, bounded memory, the files and the store as they were',
  { skip: !linux && 'needs /dev/zero, mkfifo and /proc' },
  async (t) => {
    const home = fresh();
    // An IDX file whose header says 10 images, followed by 1 GiB of zeros in a 1 MiB gzip file.
    const bomb = release();
    rmSync(path.join(bomb, NAMES[0]!));
    writeFileSync(path.join(bomb, `${NAMES[0]}.gz`), gzipMembers([idx([10, 28, 28], pixels(10))], 1024));
    // The images file a link to /dev/zero (endless), or a FIFO (no writer ever comes).
    const zero = release();
    rmSync(path.join(zero, NAMES[0]!));
    symlinkSync('/dev/zero', path.join(zero, NAMES[0]!));
    const fifo = release();
    rmSync(path.join(fifo, NAMES[0]!));
    execFileSync('mkfifo', [path.join(fifo, NAMES[0]!)]);
    // A CIFAR-10 archive whose first batch is 1 GiB of zeros (not whole records), in 1 MiB.
    const cifar = fresh();
    const header = new Header({
      path: 'cifar-10-batches-bin/data_batch_1.bin',
      size: 2 ** 30,
      type: 'File',
      mode: 0o644,
      mtime: new Date(0),
    });
    header.encode();
    const archive = path.join(cifar, 'cifar-10-binary.tar.gz');
    writeFileSync(archive, Buffer.concat([gzipMembers([header.block!], 1024), gzipSync(Buffer.alloc(1024))]));

    const cases: [string, string, RegExp][] = [
      [
        `mnist:${bomb}`,
        bomb,
        /train-images-idx3-ubyte\.gz holds more than the 7840 bytes of data its header \(10 x 28 x 28\) says/,
      ],
      [`mnist:${zero}`, zero, /train-images-idx3-ubyte is a character device, not a regular file/],
      [`mnist:${fifo}`, fifo, /train-images-idx3-ubyte is a named pipe \(FIFO\), not a regular file/],
      [
        `cifar10:${archive}`,
        cifar,
        /data_batch_1\.bin in .* has 1073741824 bytes, which is not a whole number of 3073-byte records/,
      ],
    ];
    for (const [dataset, folder, message] of cases) {
      const before = snapshot(folder);
      const r = await runCliBounded(
        ['train', '--dataset', dataset, '--home', home, '--epochs', '1', '--json'],
        {
          maxMiB: PEAK_MIB,
          hangSeconds: 60,
        },
      );
      assert.equal(r.killed, null, `${dataset}: ended by itself (peak ${r.peakMiB.toFixed(0)} MiB)`);
      assert.equal(r.status, 2, `${dataset}: ${r.stderr}`);
      assert.match((JSON.parse(r.stdout.trim()) as { error: { message: string } }).error.message, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(r.peakMiB < PEAK_MIB, `${dataset}: peak ${r.peakMiB.toFixed(0)} MiB`);
      t.diagnostic(
        `${dataset.split(':')[0]} (${path.basename(folder)}): peak RSS ${r.peakMiB.toFixed(0)} MiB`,
      );
      assert.deepEqual(snapshot(folder), before, `${dataset}: the folder is as it was`);
    }
    // The store answers, and no run was recorded for what never started.
    const runs = await runCliBounded(['runs', '--home', home, '--json'], { maxMiB: 1024, hangSeconds: 60 });
    assert.equal(runs.status, 0, runs.stderr);
  },
);

test(
  'the web shell: four imports of a folder whose images file is a FIFO each fail at once, naming it, and the app keeps answering',
  { skip: !linux && 'needs mkfifo' },
  async () => {
    const home = fresh();
    const folder = release();
    rmSync(path.join(folder, NAMES[0]!));
    execFileSync('mkfifo', [path.join(folder, NAMES[0]!)]);
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'helpers', 'web-child.ts'), home], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
      const { port, token } = JSON.parse(first.value as string) as { port: number; token: string };
      const call = async <T>(method: string, args: unknown[]): Promise<T> => {
        const r = await fetch(`http://127.0.0.1:${port}/api/${method}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'x-decomposer-token': token },
          body: JSON.stringify({ args }),
          // A server whose I/O threads are all parked never answers.
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await r.json()) as { ok: boolean; value: T; error?: { message: string } };
        assert.ok(body.ok, body.error?.message);
        return body.value;
      };
      const jobs = await Promise.all(
        [0, 1, 2, 3].map(() => call<{ id: string }>('importDataset', [{ kind: 'mnist', path: folder }])),
      );
      for (const job of jobs) {
        let j: { status: string; error: string | null } | undefined;
        for (let i = 0; i < 300 && (!j || j.status === 'running'); i++) {
          await new Promise((r) => setTimeout(r, 100));
          j = (await call<{ id: string; status: string; error: string | null }[]>('listJobs', [])).find(
            (x) => x.id === job.id,
          );
        }
        assert.equal(j?.status, 'failed', 'the import ended');
        assert.match(j!.error ?? '', /train-images-idx3-ubyte is a named pipe \(FIFO\), not a regular file/);
      }
      // Reading the data folder (the list of imported datasets) still works.
      const list = await call<{ id: string }[]>('listDatasets', []);
      assert.ok(list.length > 0);
    } finally {
      child.kill('SIGKILL');
    }
  },
);
