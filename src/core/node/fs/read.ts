// Reading files we are given (datasets, archives, model and module folders, run folders) with
// bounds. One rule for all of them:
// - only regular files are read: a FIFO, a device (/dev/zero), a socket or a folder is refused
//   by name before anything waits on it. Opening a FIFO blocks one of libuv's few I/O threads
//   until a writer comes, so it is stat'ed first and opened with O_NONBLOCK (then fstat'ed:
//   what is read is what was checked);
// - the size is known before anything is allocated, and bounded by the caller;
// - a gzip'd file is decompressed only up to the length its own header claims (and that length
//   is checked by the caller first), so a small file cannot expand into the machine's memory;
// - every long read stops when its AbortSignal fires.
// And one rule for paths read out of a manifest (weightsManifest, repaired.json): they stay
// inside the folder the manifest describes (insideFolder).
import { constants, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { UserError } from '../../common/errors.ts';

/** Bytes read per call; between calls a cancel is noticed. */
const CHUNK = 8 << 20;
/** Deflate cannot expand data more than about 1032 times (RFC 1951's longest match per bit). */
export const GZIP_MAX_RATIO = 1032;
/** O_NONBLOCK where the platform has it (not on Windows, where no FIFO can be opened by path). */
const NONBLOCK = (constants as { O_NONBLOCK?: number }).O_NONBLOCK ?? 0;

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a folder';
  return 'not a regular file';
}

function notRegular(file: string, st: Stats): UserError {
  return new UserError(
    `${file} is ${kindOf(st)}, not a regular file; only regular files are read.`,
    'Give the path of the file itself (a copy of it, not a pipe, device or link to one).',
    'not-a-file',
  );
}

/**
 * Opens a regular file for reading, without ever waiting on something that is not one. Errors
 * other than "not a regular file" (ENOENT, EACCES) are thrown as they come, for the caller's
 * own message.
 */
export async function openRegular(file: string): Promise<{ fh: fsp.FileHandle; size: number }> {
  const before = await fsp.stat(file);
  if (!before.isFile()) throw notRegular(file, before);
  const fh = await fsp.open(file, constants.O_RDONLY | NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(file, st);
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

const amount = (bytes: number): string =>
  bytes >= 2 ** 30
    ? `${(bytes / 2 ** 30).toFixed(1)} GiB`
    : bytes >= 2 ** 20
      ? `${(bytes / 2 ** 20).toFixed(1)} MiB`
      : `${bytes} bytes`;

function tooLarge(file: string, size: number, max: number): UserError {
  return new UserError(
    `${file} holds ${amount(size)}, more than the ${amount(max)} a file of its kind can have.`,
    'Check that the path names the right file (it may be another, larger file).',
    'file-too-large',
  );
}

function changed(file: string): UserError {
  return new UserError(
    `${file} changed while it was read.`,
    'Something else is writing it: wait until it is finished, then try again.',
    'file-changed',
  );
}

/** Reads `out.length` bytes of an open file from its start into `out`, noticing a cancel between chunks. */
async function fillFrom(
  fh: fsp.FileHandle,
  out: Uint8Array,
  file: string,
  signal?: AbortSignal,
): Promise<void> {
  let done = 0;
  while (done < out.length) {
    signal?.throwIfAborted();
    const { bytesRead } = await fh.read(out, done, Math.min(CHUNK, out.length - done), done);
    if (bytesRead === 0) throw changed(file);
    done += bytesRead;
  }
}

async function readOpen(
  fh: fsp.FileHandle,
  size: number,
  file: string,
  signal?: AbortSignal,
): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  await fillFrom(fh, out, file, signal);
  return out;
}

export interface ReadOptions {
  /** The most bytes the file may hold; a larger one is refused before it is read. */
  maxBytes: number;
  signal?: AbortSignal;
  /** Checks the size before anything is allocated (throw to refuse, with the caller's words). */
  onSize?: (size: number) => void;
}

/** A regular file's bytes, its size checked before they are allocated. */
export async function readRegular(file: string, opts: ReadOptions): Promise<Buffer> {
  const { fh, size } = await openRegular(file);
  try {
    opts.onSize?.(size);
    if (size > opts.maxBytes) throw tooLarge(file, size, opts.maxBytes);
    return await readOpen(fh, size, file, opts.signal);
  } finally {
    await fh.close();
  }
}

/** The size of a regular file, without opening it (a FIFO is refused, never waited on). */
export async function regularSize(file: string): Promise<number> {
  const st = await fsp.stat(file);
  if (!st.isFile()) throw notRegular(file, st);
  return st.size;
}

/**
 * Reads a regular file of exactly `out.length` bytes into `out` (its size known beforehand,
 * from regularSize): one allocation, the caller's. A file whose size changed is refused.
 */
export async function readRegularInto(file: string, out: Uint8Array, signal?: AbortSignal): Promise<void> {
  const { fh, size } = await openRegular(file);
  try {
    if (size !== out.length) throw changed(file);
    await fillFrom(fh, out, file, signal);
  } finally {
    await fh.close();
  }
}

/** A regular text file (UTF-8), bounded as readRegular. */
export async function readRegularText(file: string, opts: ReadOptions): Promise<string> {
  return (await readRegular(file, opts)).toString('utf8');
}

/** The most a manifest or small text file we read back may hold. */
export const TEXT_MAX = 64 << 20;

/** A regular file opened, and whether it is gzip'd (by content: its first bytes are gzip's magic number). */
async function openSniffed(file: string): Promise<{ fh: fsp.FileHandle; size: number; gzip: boolean }> {
  const { fh, size } = await openRegular(file);
  try {
    const magic = Buffer.alloc(2);
    const gzip =
      size >= 2 && (await fh.read(magic, 0, 2, 0)).bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    return { fh, size, gzip };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * A stream of a regular file's bytes (the handle closes with the stream), its size, and
 * whether it is gzip'd (by content).
 */
export async function regularStream(
  file: string,
  highWaterMark = 1 << 20,
): Promise<{ stream: Readable; size: number; gzip: boolean }> {
  const { fh, size, gzip } = await openSniffed(file);
  return { stream: fh.createReadStream({ highWaterMark, start: 0 }), size, gzip };
}

/** How readSized learns and reports a file's length from its own header. */
export interface SizedRead {
  /** The bytes (after decompression) that say how long the whole is. */
  headerBytes: number;
  /**
   * The whole length, header included, from the header; throws to refuse (a bad header, or a
   * length the caller will not hold). `head` is shorter than headerBytes when the file ends
   * inside its header.
   */
  length(head: Buffer): number;
  /** The error for content of `got` bytes (at least `got` when `atLeast`) where the header says `want`. */
  wrongLength(got: number, want: number, atLeast: boolean): Error;
  /** The error for a gzip stream that cannot be decompressed. */
  badGzip(why: string): Error;
  signal?: AbortSignal;
}

/**
 * A file whose header says its length, gzip'd (by content, not by name) or not. The header is
 * read first and its length checked (by `length`) before the rest is read; a gzip'd file is
 * decompressed up to that length and no further (more data is `wrongLength(.., true)` at
 * once), so memory is what the header claims, never what the file expands to. A claim larger
 * than the gzip'd file could hold is only counted, never allocated.
 */
export async function readSized(file: string, r: SizedRead): Promise<Buffer> {
  const { fh, size, gzip } = await openSniffed(file);
  if (!gzip) {
    try {
      const head = await readOpen(fh, Math.min(size, r.headerBytes), file, r.signal);
      const want = r.length(head);
      if (want !== size) throw r.wrongLength(size, want, false);
      return size > head.length ? await readOpen(fh, size, file, r.signal) : head;
    } finally {
      await fh.close();
    }
  }
  const source = fh.createReadStream({ highWaterMark: 1 << 20, start: 0 });
  let head = Buffer.alloc(0);
  let want = -1;
  let out: Buffer | null = null;
  let got = 0;
  const sink = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of chunks) {
      let c = chunk;
      if (want < 0) {
        head = Buffer.concat([head, c]);
        if (head.length < r.headerBytes) continue;
        want = r.length(head.subarray(0, r.headerBytes));
        // Deflate's ratio bounds what the file can hold: a larger claim is counted, not held.
        if (want <= size * GZIP_MAX_RATIO) out = Buffer.allocUnsafe(want);
        c = head;
      }
      if (got + c.length > want) throw r.wrongLength(got + c.length, want, true);
      out?.set(c, got);
      got += c.length;
    }
  };
  try {
    await pipeline(source, zlib.createGunzip(), sink, { signal: r.signal });
  } catch (e) {
    if (e instanceof Error && (e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw r.badGzip(e.message);
    throw e;
  } finally {
    if (!source.destroyed) source.destroy();
  }
  if (want < 0) {
    want = r.length(head);
    if (want !== head.length) throw r.wrongLength(head.length, want, false);
    return head;
  }
  if (got !== want || !out) throw r.wrongLength(got, want, false);
  return out;
}

/**
 * The absolute path of `rel`, a path read out of a manifest in `dir`, or one UserError when
 * it leaves `dir`: absolute, `..` beyond it, or (once it exists) a link that resolves
 * outside it. Checked before anything at that path is opened or even stat'ed, so a manifest
 * cannot make us read, or tell the size of, a file elsewhere.
 */
export async function insideFolder(dir: string, rel: string, what: string): Promise<string> {
  const refuse = (): UserError =>
    new UserError(
      `${what} names ${JSON.stringify(rel.length > 80 ? `${rel.slice(0, 80)}…` : rel)}, which is outside ${dir}; only files inside the folder are read.`,
      'The folder was edited or comes from elsewhere: restore it from where it was saved (paths in it are relative to it).',
      'path-outside',
    );
  const root = path.resolve(dir);
  if (!rel || rel.includes('\0') || path.isAbsolute(rel) || path.win32.isAbsolute(rel)) throw refuse();
  const target = path.resolve(root, rel);
  const within = (base: string, p: string): boolean => {
    const r = path.relative(base, p);
    return r !== '..' && !r.startsWith(`..${path.sep}`) && !path.isAbsolute(r);
  };
  if (!within(root, target) || target === root) throw refuse();
  let real: string;
  try {
    real = await fsp.realpath(target);
  } catch {
    return target; // missing: the reader says so
  }
  if (!within(await fsp.realpath(root), real)) throw refuse();
  return target;
}
