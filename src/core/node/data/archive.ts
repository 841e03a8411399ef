// Reading members of a .tar / .tar.gz archive into memory, with clear errors for
// truncated or corrupt archives. The archive must be a regular file (fs/read.ts), and each
// member's size, from its tar header, is checked by the caller before a byte of it is held:
// what is held is what the headers say, however far the archive's gzip layer expands.

import path from 'node:path';
import zlib from 'node:zlib';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import type { Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { regularStream } from '../fs/read.ts';

export function isTarArchive(file: string): boolean {
  return /\.(tar\.gz|tgz|tar)$/i.test(file);
}

function corrupt(file: string, why: string): UserError {
  return new UserError(
    `The archive ${file} is truncated or corrupt (${why}).`,
    'Download it again (an interrupted download leaves a short file), or extract it elsewhere and choose the extracted folder.',
    'corrupt-archive',
  );
}

/**
 * Reads the regular files of a tar(.gz) archive whose base name `want` accepts, keyed by base
 * name. `checkSize` sees each wanted member's size before it is read, and throws to refuse it.
 * The whole archive is read so that a truncated tail is always noticed.
 */
export async function readTarMembers(
  file: string,
  want: (baseName: string) => boolean,
  checkSize: (baseName: string, bytes: number) => void,
  opts: { onProgress?: (p: Progress) => void; signal?: AbortSignal; stage?: string } = {},
): Promise<Map<string, Buffer>> {
  opts.signal?.throwIfAborted();
  const { stream, size: total, gzip } = await regularStream(file);
  // Decompressed here, not by the parser: Node's gunzip yields its output in small pieces as
  // they are taken, where the parser's would expand a whole read chunk at once (a MiB of a
  // bomb is a GiB) before a member's size could be refused.
  const gunzip = gzip ? zlib.createGunzip() : null;
  const out = new Map<string, Buffer>();
  let read = 0;
  let lastReport = 0;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const onAbort = (): void => fail(opts.signal?.reason ?? new Error('aborted'));
    const fail = (e: unknown): void => {
      if (failed) return;
      failed = true;
      opts.signal?.removeEventListener('abort', onAbort);
      stream.destroy();
      gunzip?.destroy();
      reject(e);
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const base = path.posix.basename(entry.path);
        if (entry.type !== 'File' || !want(base)) {
          entry.resume();
          return;
        }
        const bytes = entry.size ?? 0;
        try {
          checkSize(base, bytes);
        } catch (e) {
          fail(e);
          return;
        }
        const data = Buffer.allocUnsafe(bytes);
        let at = 0;
        entry.on('data', (c: Buffer) => {
          if (at + c.length > bytes) return fail(corrupt(file, `${base} is longer than its header says`));
          data.set(c, at);
          at += c.length;
        });
        entry.on('end', () => {
          if (at === bytes) out.set(base, data);
          else fail(corrupt(file, `${base} ends early`));
        });
      },
    });
    parser.on('error', (e: Error) => fail(corrupt(file, e.message)));
    parser.on('warn', (_code: string, message: string | Error) =>
      fail(corrupt(file, typeof message === 'string' ? message : message.message)),
    );
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (chunk) => {
      read += chunk.length;
      if (opts.onProgress && (read - lastReport > total / 50 || read === total)) {
        lastReport = read;
        opts.onProgress({
          stage: opts.stage ?? 'Reading archive',
          fraction: total ? read / total : null,
          detail: path.basename(file),
        });
      }
    });
    stream.on('error', (e) => fail(e));
    if (gunzip) {
      gunzip.on('error', (e) => fail(corrupt(file, e.message)));
      stream.pipe(gunzip).pipe(parser);
    } else stream.pipe(parser);
    parser.on('end', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (!failed) resolve();
    });
    parser.on('close', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (!failed) resolve();
    });
  });
  return out;
}
