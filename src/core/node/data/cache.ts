// The decoded-dataset cache: one file per dataset id under cacheDir, holding
//   8 bytes magic "DCMPDS01" | uint32 LE header length | JSON header |
//   train images | train labels (int32 LE) | test images | test labels | 8 bytes "DCMPDEND"
// The header records the source fingerprint; a file whose fingerprint, length or end marker
// does not match is ignored (and replaced by the next successful load). Files are written to a
// temporary name, fsynced and renamed, so a killed process never leaves a half file under the
// real name, and a failed load never touches a finished cache.

import { promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { writeFileAtomic } from '../fs/atomic.ts';
import { openRegular } from '../fs/read.ts';
import { MAX_IMAGE_SIDE } from '../../common/bounds.ts';
import { DATASET_INFO, type ImageSet, type LoadedDataset } from '../../common/dataset.ts';
import { int, v } from '../../common/schema.ts';
import { imageSetBuffer } from './image-set.ts';

const MAGIC = Buffer.from('DCMPDS01', 'latin1');
const END = Buffer.from('DCMPDEND', 'latin1');
const VERSION = 1;
const CHUNK = 1 << 28;

const SPLIT = v.object({ count: int(0, 2 ** 31 - 1), size: int(1, MAX_IMAGE_SIDE) });

/** The JSON header of a cache file: which source it holds, and how many images of which size. */
const HEADER = v.object({
  version: v.number(),
  fingerprint: v.string(),
  info: DATASET_INFO,
  train: SPLIT,
  test: SPLIT,
});

type Header = v.InferOutput<typeof HEADER>;

export function cacheFile(cacheDir: string, id: string): string {
  return path.join(cacheDir, `${id}.dataset`);
}

/** A fingerprint of the source: the given paths' sizes and modification times, plus extra. */
export async function fingerprint(paths: string[], extra: unknown): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify(extra));
  for (const p of paths) {
    try {
      const st = await fsp.stat(p);
      h.update(`\n${p}\t${st.size}\t${Math.round(st.mtimeMs)}`);
    } catch {
      h.update(`\n${p}\tmissing`);
    }
  }
  return h.digest('hex');
}

async function readFully(fh: fsp.FileHandle, target: Uint8Array, position: number): Promise<boolean> {
  let done = 0;
  while (done < target.length) {
    const len = Math.min(CHUNK, target.length - done);
    const { bytesRead } = await fh.read(target, done, len, position + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}

/** Reads a cached dataset, or returns null if there is none or it does not match. */
export async function readCache(file: string, expectedFingerprint: string): Promise<LoadedDataset | null> {
  let fh: fsp.FileHandle;
  let size: number;
  try {
    ({ fh, size } = await openRegular(file));
  } catch {
    return null; // none, or not a file we read: the next load writes a new one
  }
  try {
    const pre = Buffer.alloc(12);
    if (size < 12 + END.length || !(await readFully(fh, pre, 0)) || !pre.subarray(0, 8).equals(MAGIC))
      return null;
    const hlen = pre.readUInt32LE(8);
    if (hlen > 64 * 1024 * 1024 || 12 + hlen > size) return null;
    const hbuf = Buffer.alloc(hlen);
    if (!(await readFully(fh, hbuf, 12))) return null;
    let header: Header;
    try {
      const r = v.safeParse(HEADER, JSON.parse(hbuf.toString('utf8')));
      if (!r.success) return null; // not a header this version wrote: the next load writes a new one
      header = r.output;
    } catch {
      return null;
    }
    if (header.version !== VERSION || header.fingerprint !== expectedFingerprint) return null;
    const bytesFor = (s: { count: number; size: number }): number =>
      s.count * s.size * s.size * 3 + s.count * 4;
    if (12 + hlen + bytesFor(header.train) + bytesFor(header.test) + END.length !== size) return null;
    let pos = 12 + hlen;
    const readSet = async (s: { count: number; size: number }): Promise<ImageSet | null> => {
      const images = imageSetBuffer(s.count, s.size, `The cached dataset ${path.basename(file)}`);
      if (!(await readFully(fh, images, pos))) return null;
      pos += images.length;
      const labels = new Int32Array(s.count);
      if (!(await readFully(fh, new Uint8Array(labels.buffer), pos))) return null;
      pos += s.count * 4;
      return { images, labels, count: s.count, size: s.size };
    };
    const train = await readSet(header.train);
    const test = train && (await readSet(header.test));
    if (!train || !test) return null;
    const end = Buffer.alloc(END.length);
    if (!(await readFully(fh, end, pos)) || !end.equals(END)) return null;
    return { info: header.info, train, test };
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: fsp.FileHandle, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length; off += CHUNK) {
    const part = data.subarray(off, Math.min(data.length, off + CHUNK));
    let done = 0;
    while (done < part.length) {
      const { bytesWritten } = await fh.write(part, done, part.length - done);
      done += bytesWritten;
    }
  }
}

function labelBytes(labels: Int32Array): Uint8Array {
  const out = new Uint8Array(labels.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < labels.length; i++) dv.setInt32(i * 4, labels[i], true);
  return out;
}

/** Writes the cache atomically: temporary file, fsync, rename, fsync of the folder. */
export async function writeCache(file: string, fp: string, ds: LoadedDataset): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const header: Header = {
    version: VERSION,
    fingerprint: fp,
    info: ds.info,
    train: { count: ds.train.count, size: ds.train.size },
    test: { count: ds.test.count, size: ds.test.size },
  };
  const hbuf = Buffer.from(JSON.stringify(header), 'utf8');
  const pre = Buffer.alloc(12);
  MAGIC.copy(pre, 0);
  pre.writeUInt32LE(hbuf.length, 8);
  await writeFileAtomic(file, async (fh) => {
    await writeAll(fh, pre);
    await writeAll(fh, hbuf);
    for (const set of [ds.train, ds.test]) {
      await writeAll(fh, set.images);
      await writeAll(fh, labelBytes(set.labels));
    }
    await writeAll(fh, END);
  });
}

/** Removes temporary files left behind by killed writers (older than an hour). */
export async function sweepTemporaries(cacheDir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(cacheDir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const n of names) {
    if (!n.endsWith('.tmp') || !n.includes('.dataset.')) continue;
    const p = path.join(cacheDir, n);
    try {
      if (now - (await fsp.stat(p)).mtimeMs > 3600_000) await fsp.rm(p, { force: true });
    } catch {
      // ignore
    }
  }
}
