// Downloading the public datasets, only when the user asks: a source of one archive is one
// file; a release of several files (the MNIST family) is a folder of them, each checked, each
// fetched from the source's address or its mirrors (resumable-fetch.ts does the fetching).

import path from 'node:path';
import type { Progress } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';
import { KNOWN_DOWNLOADS, type DownloadName } from './download-sources.ts';
import { fetchFile, type DownloadResult, type FetchOptions } from './resumable-fetch.ts';

export interface DownloadOptions extends FetchOptions {
  /** Overrides the default URL; then give the matching checksum too (or none is checked). */
  url?: string;
  sha256?: string;
  md5?: string;
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
        // the fetcher reports a bad address
      }
    }
    return fetchFile([url], fileName, checksum, { ...opts, destDir });
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
        await fetchFile(
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
