// The resumable fetcher under every download: one file from the first of its addresses that
// serves it, with progress in bytes, resume of a partial download (<file>.part + an HTTP
// Range request), redirects, checksum verification, and a clear message when the network
// cannot be reached. Only ever called when a user asks.

import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { regularStream } from '../fs/read.ts';

export interface FetchOptions {
  destDir: string;
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

function badUrl(url: string, what: string): UserError {
  return new UserError(
    `The download address ${url} ${what}.`,
    'Give a full http:// or https:// address.',
    'bad-url',
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
  opts: FetchOptions,
  report: (bytes: number, total: number | null) => void,
  redirects = 0,
): Promise<Attempt & { total: number | null }> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(badUrl(url, 'is not a valid URL'));
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      reject(badUrl(url, 'is not http or https'));
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
/** Codes after which the next mirror is tried. */
const TRY_NEXT = new Set(['http-error', 'offline']);

/** One file from the first of `urls` that serves it (a partial download is resumed from any). */
export async function fetchFile(
  urls: string[],
  fileName: string,
  checksum: DownloadResult['verified'],
  opts: FetchOptions,
): Promise<DownloadResult> {
  for (let i = 0; ; i++) {
    try {
      return await fetchFrom(urls[i]!, fileName, checksum, opts);
    } catch (e) {
      if (i + 1 < urls.length && e instanceof UserError && TRY_NEXT.has(e.code)) continue;
      throw e;
    }
  }
}

async function fetchFrom(
  url: string,
  fileName: string,
  checksum: DownloadResult['verified'],
  opts: FetchOptions,
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
