// Reading members of a .tar / .tar.gz archive into memory, with clear errors for
// truncated or corrupt archives.

import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import type { Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';

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
 * name. The whole archive is read so that a truncated tail is always noticed.
 */
export async function readTarMembers(
  file: string,
  want: (baseName: string) => boolean,
  opts: { onProgress?: (p: Progress) => void; signal?: AbortSignal; stage?: string } = {},
): Promise<Map<string, Buffer>> {
  const total = (await fsp.stat(file)).size;
  const out = new Map<string, Buffer>();
  let read = 0;
  let lastReport = 0;
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (e: unknown): void => {
      if (failed) return;
      failed = true;
      stream.destroy();
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
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => out.set(base, Buffer.concat(chunks)));
      },
    });
    parser.on('error', (e: Error) => fail(corrupt(file, e.message)));
    parser.on('warn', (_code: string, message: string | Error) =>
      fail(corrupt(file, typeof message === 'string' ? message : message.message)),
    );
    const stream = createReadStream(file, { highWaterMark: 1 << 20 });
    const onAbort = (): void => fail(opts.signal?.reason ?? new Error('aborted'));
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
    stream.pipe(parser);
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
