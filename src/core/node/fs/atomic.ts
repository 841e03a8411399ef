// Atomic file writes: a killed process leaves either the old file or the new one, never a
// half-written one (write a temporary name, fsync, rename, fsync the folder).
import { promises as fsp, constants } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

async function fsyncDir(dir: string): Promise<void> {
  let h: fsp.FileHandle | undefined;
  try {
    h = await fsp.open(dir, constants.O_RDONLY);
    await h.sync();
  } catch {
    // Some platforms (Windows) cannot fsync a directory; the rename is still atomic.
  } finally {
    await h?.close();
  }
}

/**
 * Writes a file atomically. `data` is the whole content, or a function that writes it
 * through the open handle (for content too large to hold in one buffer).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array | ((fh: fsp.FileHandle) => Promise<void>),
): Promise<void> {
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true });
  // Temporary names end in .tmp so readers and sweepers can tell them from finished files.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const h = await fsp.open(tmp, 'w');
  try {
    if (typeof data === 'function') await data(h);
    else await h.writeFile(data);
    await h.sync();
    await h.close();
    await fsp.rename(tmp, file);
  } catch (e) {
    await h.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/**
 * Writes a whole folder atomically: fills a temporary sibling, then renames it into place.
 * An existing folder of that name is replaced only after the new one is complete.
 */
export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(dir);
  await fsp.mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.${randomBytes(6).toString('hex')}.tmp`);
  await fsp.mkdir(tmp);
  try {
    await fill(tmp);
    const old = path.join(parent, `.${path.basename(dir)}.${randomBytes(6).toString('hex')}.old`);
    let moved = false;
    try {
      await fsp.rename(dir, old);
      moved = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await fsp.rename(tmp, dir);
    await fsyncDir(parent);
    if (moved) await fsp.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Writes and fsyncs one file inside a folder being filled by writeDirAtomic. */
export async function writeFileSynced(file: string, data: string | Uint8Array): Promise<void> {
  const h = await fsp.open(file, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}
