// Downloading the public datasets, only when the user asks: progress in bytes, resume of a
// partial download (<file>.part + an HTTP Range request), checksum verification, redirects,
// and a clear message when the network cannot be reached.

import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { regularStream } from '../fs/read.ts';

export type DownloadName =
  'cifar10' | 'cifar100' | 'tinyimagenet' | 'mnist' | 'fashion-mnist' | 'kmnist' | 'emnist';

type Checksum = { algorithm: 'md5' | 'sha256'; hex: string };

export interface KnownDownload {
  url: string;
  fileName: string;
  /** The published checksum (md5 is what the authors publish for CIFAR and the MNIST family). */
  checksum: Checksum;
  /** What the job and the app call it. */
  title: string;
  approxBytes?: number;
  note?: string;
  /**
   * A release of several files (the MNIST family's four IDX files): each is fetched from
   * `url` + its name (then from each mirror in turn where that fails) into a folder named
   * after the dataset, and checked against its own checksum. `url`, `fileName` and
   * `checksum` above then describe the first file.
   */
  files?: { fileName: string; md5: string }[];
  mirrors?: string[];
  /** The folder under the download folder it goes in (where `--dataset NAME` looks for it). */
  folder?: string;
}

/** The four IDX files of an MNIST-style release with their published md5s, in the same order. */
function idxRelease(
  folder: DownloadName,
  title: string,
  base: string,
  md5s: [string, string, string, string],
  mirrors: string[] = [],
): KnownDownload {
  const names = [
    'train-images-idx3-ubyte.gz',
    'train-labels-idx1-ubyte.gz',
    't10k-images-idx3-ubyte.gz',
    't10k-labels-idx1-ubyte.gz',
  ];
  return {
    title,
    url: base,
    fileName: names[0]!,
    checksum: { algorithm: 'md5', hex: md5s[0] },
    files: names.map((fileName, i) => ({ fileName, md5: md5s[i]! })),
    mirrors,
    folder,
  };
}

export const KNOWN_DOWNLOADS: Record<DownloadName, KnownDownload> = {
  cifar10: {
    title: 'CIFAR-10',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
    fileName: 'cifar-10-binary.tar.gz',
    checksum: { algorithm: 'md5', hex: 'c32a1d4ab5d03f1284b67883e8d87530' },
    approxBytes: 170052171,
  },
  cifar100: {
    title: 'CIFAR-100',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
    fileName: 'cifar-100-binary.tar.gz',
    checksum: { algorithm: 'md5', hex: '03b5dce01913d631647c71ecec9e9cb8' },
    approxBytes: 168513733,
  },
  tinyimagenet: {
    title: 'Tiny ImageNet',
    url: 'http://cs231n.stanford.edu/tiny-imagenet-200.zip',
    fileName: 'tiny-imagenet-200.zip',
    // Not published by Stanford; the md5 every common loader (e.g. torchvision-style
    // TinyImageNet classes) checks against.
    checksum: { algorithm: 'md5', hex: '90528d7ca1a48142e341f4ef8d21d0de' },
    approxBytes: 248100043,
    note: 'Extract the zip and choose the tiny-imagenet-200 folder as the dataset path.',
  },
  // The md5s are those torchvision's MNIST classes check (Fashion-MNIST's are also in its
  // README). LeCun's site often refuses downloads now; torchvision's mirror serves the same files.
  mnist: idxRelease(
    'mnist',
    'MNIST',
    'http://yann.lecun.com/exdb/mnist/',
    [
      'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      'd53e105ee54ea40749a09fcbcd1e9432',
      '9fb629c4189551a2d022fa330f9573f3',
      'ec29112dd5afa0611ce80d1b7f02629c',
    ],
    ['https://ossci-datasets.s3.amazonaws.com/mnist/'],
  ),
  'fashion-mnist': idxRelease(
    'fashion-mnist',
    'Fashion-MNIST',
    'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    [
      '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      '25c81989df183df01b3e8a0aad5dffbe',
      'bef4ecab320f06d8554ea6380940ec79',
      'bb300cfdad3c16e7a12a480ee83cd310',
    ],
  ),
  kmnist: idxRelease('kmnist', 'Kuzushiji-MNIST', 'http://codh.rois.ac.jp/kmnist/dataset/kmnist/', [
    'bdb82020997e1d708af4cf47b453dcf7',
    'e144d726b3acfaa3e44228e80efcd344',
    '5c965bf0a639b31b8f53240b1b52f4d7',
    '7320c461ea6c1c855c0b718fb2a4b134',
  ]),
  emnist: {
    title: 'EMNIST',
    url: 'https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip',
    fileName: 'gzip.zip',
    checksum: { algorithm: 'md5', hex: '58c8d27c78d21e728a6bc7b3cc06412e' },
    folder: 'emnist',
    note: 'Extract gzip.zip where it is (its gzip folder holds every split); then `--dataset emnist` (balanced) or emnist-letters, emnist-digits, emnist-byclass finds it.',
  },
};

export interface DownloadOptions {
  destDir: string;
  /** Overrides the default URL; then give the matching checksum too (or none is checked). */
  url?: string;
  sha256?: string;
  md5?: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** How many times an interrupted transfer is resumed automatically (default 3). */
  retries?: number;
  /** Per-request inactivity timeout in ms (default 30000). */
  timeoutMs?: number;
}

export interface DownloadResult {
  /** The finished, verified archive. */
  path: string;
  bytes: number;
  /** The checksum that was verified, or null when none was known (custom URL, no checksum). */
  verified: { algorithm: 'md5' | 'sha256'; hex: string } | null;
  /** True when the file was already there and verified: nothing was downloaded. */
  alreadyPresent: boolean;
  /** True when an earlier partial download was continued. */
  resumed: boolean;
}

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'EAI_FAIL',
  'EAI_NODATA',
]);

class Interrupted extends Error {}

async function hashFile(file: string, algorithm: 'md5' | 'sha256', signal?: AbortSignal): Promise<string> {
  const h = createHash(algorithm);
  const { stream } = await regularStream(file);
  await pipeline(
    stream,
    async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) h.update(chunk);
    },
    { signal },
  );
  return h.digest('hex');
}

function offline(url: string, code: string, dest: string): UserError {
  const host = safeHost(url);
  return new UserError(
    `Could not reach ${host} (${code}): the network is unreachable or the server refused the connection.`,
    `Check the internet connection and try again (a partial download is kept and resumed), or download ${url} on another machine and place it at ${dest}, then choose that file as the dataset path.`,
    'offline',
  );
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

interface Attempt {
  status: number;
  complete: boolean;
}

/** One HTTP(S) request, appending to `part` from `offset`. Follows redirects. */
function fetchOnce(
  url: string,
  part: string,
  offset: number,
  opts: DownloadOptions,
  report: (bytes: number, total: number | null) => void,
  redirects = 0,
): Promise<Attempt & { total: number | null }> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(
        new UserError(
          `The download address ${url} is not a valid URL.`,
          'Give a full http:// or https:// address.',
          'bad-url',
        ),
      );
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      reject(
        new UserError(
          `The download address ${url} is not http or https.`,
          'Give a full http:// or https:// address.',
          'bad-url',
        ),
      );
      return;
    }
    const lib = u.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { 'user-agent': 'decomposer', 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const req = lib.get(u, { headers, signal: opts.signal, timeout: opts.timeoutMs ?? 30000 }, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirects >= 5) {
          reject(
            new UserError(
              `${url} redirects too many times.`,
              'Check the address, or download the file by hand.',
              'http-error',
            ),
          );
          return;
        }
        fetchOnce(
          new URL(res.headers.location, u).toString(),
          part,
          offset,
          opts,
          report,
          redirects + 1,
        ).then(resolve, reject);
        return;
      }
      if (status === 416) {
        res.resume();
        resolve({ status, complete: false, total: null });
        return;
      }
      if (status !== 200 && status !== 206) {
        res.resume();
        reject(
          new UserError(
            `The server answered ${status} ${res.statusMessage ?? ''} for ${url}.`.replace(/\s+/g, ' '),
            'The file may have moved: check the address, or download it by hand and choose it as the dataset path.',
            'http-error',
          ),
        );
        return;
      }
      // 200 means the server ignored the range: start over.
      const start = status === 206 ? offset : 0;
      let total: number | null = null;
      const cr = res.headers['content-range'];
      const m = typeof cr === 'string' ? /\/(\d+)\s*$/.exec(cr) : null;
      if (m) total = Number(m[1]);
      else if (res.headers['content-length']) total = start + Number(res.headers['content-length']);
      const out = createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
      let received = start;
      let finished = false;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        report(received, total);
      });
      const done = (err: Error | null): void => {
        if (finished) return;
        finished = true;
        out.end(() => {
          if (err) reject(err);
          else if (total !== null && received < total)
            reject(new Interrupted(`connection closed after ${received} of ${total} bytes`));
          else resolve({ status, complete: true, total: total ?? received });
        });
      };
      res.on('aborted', () => done(new Interrupted('connection cut')));
      res.on('error', (e) =>
        done(opts.signal?.aborted ? (opts.signal.reason as Error) : new Interrupted(e.message)),
      );
      res.on('end', () => done(res.complete ? null : new Interrupted('connection cut')));
      res.pipe(out, { end: false });
    });
    req.on('timeout', () => req.destroy(new Interrupted('no data for too long')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (opts.signal?.aborted) reject(opts.signal.reason);
      else if (e instanceof Interrupted) reject(e);
      else if (e.code && NETWORK_CODES.has(e.code))
        reject(offline(url, e.code, path.join(opts.destDir, path.basename(part, '.part'))));
      else if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reject(new Interrupted(e.message));
      else reject(e);
    });
  });
}

/**
 * Downloads one of the public datasets into opts.destDir (only ever called when a user asks).
 * Resumes <file>.part when present, verifies the checksum, and renames the file into place.
 * A release of several files (the MNIST family) goes into a folder named after it, each file
 * checked; its result's path is that folder. With opts.url such a release is fetched from
 * that base address instead (a mirror: the files and their checksums are the same).
 */
export async function downloadDataset(name: DownloadName, opts: DownloadOptions): Promise<DownloadResult> {
  const known = Object.hasOwn(KNOWN_DOWNLOADS, name) ? KNOWN_DOWNLOADS[name] : undefined;
  if (!known) {
    throw new UserError(
      `There is no download for "${String(name)}".`,
      `Choose one of: ${Object.keys(KNOWN_DOWNLOADS).join(', ')}.`,
      'bad-spec',
    );
  }
  const destDir = known.folder ? path.join(opts.destDir, known.folder) : opts.destDir;
  if (!known.files) {
    const url = opts.url ?? known.url;
    let checksum: DownloadResult['verified'];
    if (opts.sha256) checksum = { algorithm: 'sha256', hex: opts.sha256.toLowerCase() };
    else if (opts.md5) checksum = { algorithm: 'md5', hex: opts.md5.toLowerCase() };
    else checksum = opts.url && opts.url !== known.url ? null : known.checksum;
    let fileName = known.fileName;
    if (opts.url) {
      try {
        const base = path.posix.basename(new URL(opts.url).pathname);
        if (base && /^[\w.-]+$/.test(base)) fileName = base;
      } catch {
        // reported by fetchOnce
      }
    }
    return downloadFile([url], fileName, checksum, { ...opts, destDir });
  }
  const bases = opts.url ? [opts.url] : [known.url, ...(known.mirrors ?? [])];
  const files = known.files;
  const results: DownloadResult[] = [];
  for (const [i, f] of files.entries()) {
    const urls = bases.map((b) => `${b.endsWith('/') ? b : `${b}/`}${f.fileName}`);
    const stage = (p: Progress): Progress => ({
      ...p,
      stage: `${p.stage} ${f.fileName} (${i + 1} of ${files.length})`,
    });
    try {
      results.push(
        await downloadFile(
          urls,
          f.fileName,
          { algorithm: 'md5', hex: f.md5 },
          { ...opts, destDir, onProgress: opts.onProgress && ((p) => opts.onProgress!(stage(p))) },
        ),
      );
    } catch (e) {
      if (!(e instanceof UserError) || e.code !== 'offline') throw e;
      // The release is a folder of files: say where all of them go.
      throw new UserError(
        e.message,
        `Check the internet connection and try again (partial downloads are kept and resumed), or download ${files.map((x) => x.fileName).join(', ')} from ${bases[0]} on another machine into ${destDir}; then --dataset ${name} finds them.`,
        'offline',
      );
    }
  }
  return {
    path: destDir,
    bytes: results.reduce((a, r) => a + r.bytes, 0),
    verified: results.every((r) => r.verified)
      ? { algorithm: 'md5', hex: results.map((r) => r.verified!.hex).join(' ') }
      : null,
    alreadyPresent: results.every((r) => r.alreadyPresent),
    resumed: results.some((r) => r.resumed),
  };
}

/** Codes after which the next mirror is tried. */
const TRY_NEXT = new Set(['http-error', 'offline']);

/** One file from the first of `urls` that serves it (a partial download is resumed from any). */
async function downloadFile(
  urls: string[],
  fileName: string,
  checksum: DownloadResult['verified'],
  opts: DownloadOptions,
): Promise<DownloadResult> {
  for (let i = 0; ; i++) {
    try {
      return await downloadFrom(urls[i]!, fileName, checksum, opts);
    } catch (e) {
      if (i + 1 < urls.length && e instanceof UserError && TRY_NEXT.has(e.code)) continue;
      throw e;
    }
  }
}

async function downloadFrom(
  url: string,
  fileName: string,
  checksum: DownloadResult['verified'],
  opts: DownloadOptions,
): Promise<DownloadResult> {
  await fsp.mkdir(opts.destDir, { recursive: true });
  const dest = path.join(opts.destDir, fileName);
  const part = `${dest}.part`;
  const progress = (stage: string, bytes: number, total: number | null): void =>
    opts.onProgress?.({
      stage,
      fraction: total ? Math.min(1, bytes / total) : null,
      bytes,
      totalBytes: total,
      detail: total
        ? `${(bytes / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`
        : `${(bytes / 1e6).toFixed(1)} MB`,
    });

  const verify = async (file: string): Promise<string | null> => {
    if (!checksum) return null;
    opts.onProgress?.({ stage: 'Verifying checksum', fraction: null, detail: path.basename(file) });
    return hashFile(file, checksum.algorithm, opts.signal);
  };

  if (existsSync(dest)) {
    const got = await verify(dest);
    if (!checksum || got === checksum.hex) {
      const bytes = (await fsp.stat(dest)).size;
      return { path: dest, bytes, verified: checksum, alreadyPresent: true, resumed: false };
    }
    throw new UserError(
      `${dest} already exists but its ${checksum.algorithm} is ${got}, not the expected ${checksum.hex}.`,
      'Delete or move that file and download again (nothing was changed).',
      'checksum-mismatch',
    );
  }

  let resumed = false;
  const retries = opts.retries ?? 3;
  let restarted = false;
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    let offset: number;
    try {
      offset = (await fsp.stat(part)).size;
    } catch {
      offset = 0;
    }
    if (offset > 0) resumed = true;
    let lastReport = 0;
    try {
      const r = await fetchOnce(url, part, offset, opts, (bytes, total) => {
        const now = Date.now();
        if (now - lastReport > 100 || bytes === total) {
          lastReport = now;
          progress('Downloading', bytes, total);
        }
      });
      if (r.status === 416) {
        // The part is as long as (or longer than) the file: check it, or start over once.
        if (restarted)
          throw new UserError(
            `The server refused to resume ${url}.`,
            `Delete ${part} and try again.`,
            'http-error',
          );
        restarted = true;
        const got = await verify(part);
        if (checksum && got === checksum.hex) break;
        await fsp.rm(part, { force: true });
        continue;
      }
      break;
    } catch (e) {
      if (e instanceof Interrupted) {
        if (attempt < retries) continue;
        const have = existsSync(part) ? (await fsp.stat(part)).size : 0;
        throw new UserError(
          `The download of ${url} was interrupted (${e.message}); ${have} bytes are kept in ${part}.`,
          'Download again to resume from there.',
          'download-interrupted',
        );
      }
      throw e;
    }
  }
  const got = await verify(part);
  if (checksum && got !== checksum.hex) {
    await fsp.rm(part, { force: true });
    throw new UserError(
      `The downloaded file from ${url} has ${checksum.algorithm} ${got}, but ${checksum.hex} was expected, so it was deleted (nothing else was touched).`,
      'Try again; if it keeps failing, the file on the server changed or the address is wrong: give the right checksum, or download it by hand.',
      'checksum-mismatch',
    );
  }
  await fsp.rename(part, dest);
  const bytes = (await fsp.stat(dest)).size;
  progress('Downloaded', bytes, bytes);
  return { path: dest, bytes, verified: checksum, alreadyPresent: false, resumed };
}
