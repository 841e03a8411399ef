// Atomic file writes: a killed process leaves either the old file or the new one, never a
// half-written one (write a temporary name, fsync, rename, fsync the folder). Temporary
// names stay within the 255 bytes a file name may have, whatever the final name's length.
import { promises as fsp, constants } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../../common/errors.ts';

/** The longest file name (one path component) Linux, macOS and Windows filesystems take, in bytes. */
export const NAME_MAX = 255;

/** `name` cut to at most `bytes` bytes of UTF-8, never inside a character. */
function cutUtf8(name: string, bytes: number): string {
  if (Buffer.byteLength(name) <= bytes) return name;
  let out = '';
  let used = 0;
  for (const ch of name) {
    const n = Buffer.byteLength(ch);
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/**
 * A sibling of `file` named `<base><suffix>`, the base shortened as needed so the name stays
 * within NAME_MAX bytes (a final name of 250 bytes still gets its backup or partial file).
 */
export function siblingName(file: string, suffix: string): string {
  const base = cutUtf8(path.basename(file), NAME_MAX - Buffer.byteLength(suffix));
  return path.join(path.dirname(file), `${base}${suffix}`);
}

/** Temporary names: `.<base>.<pid>-<hex>.tmp`, hidden, and telling which process made them. */
export const TEMP_RE = /^\..*\.(\d+)-[0-9a-f]{8}\.tmp$/;

/** A fresh temporary sibling of `file` (see TEMP_RE), within NAME_MAX bytes. */
export function tempSibling(file: string): string {
  const suffix = `.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const base = cutUtf8(path.basename(file), NAME_MAX - 1 - Buffer.byteLength(suffix));
  return path.join(path.dirname(file), `.${base}${suffix}`);
}

/** A name longer than any filesystem takes is refused with what to do, not a raw ENAMETOOLONG. */
export function checkNameLength(file: string): void {
  const base = path.basename(file);
  const bytes = Buffer.byteLength(base);
  if (bytes > NAME_MAX)
    throw new UserError(
      `The name "${cutUtf8(base, 40)}…" is ${bytes} bytes long; file and folder names can have at most ${NAME_MAX}.`,
      'Choose a shorter name.',
      'name-too-long',
    );
}

export async function fsyncDir(dir: string): Promise<void> {
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

/** Writes `data` to a new file `tmp` and fsyncs it; removes it again when that fails. */
export async function writeTemp(
  tmp: string,
  data: string | Uint8Array | ((fh: fsp.FileHandle) => Promise<void>),
): Promise<void> {
  const h = await fsp.open(tmp, 'wx');
  try {
    if (typeof data === 'function') await data(h);
    else await h.writeFile(data);
    await h.sync();
    await h.close();
  } catch (e) {
    await h.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw e;
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
  checkNameLength(file);
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = tempSibling(file);
  await writeTemp(tmp, data);
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/**
 * Creates a new folder atomically: fills a temporary sibling, then renames it into place. A
 * folder that is already there is never replaced (nor anything in it removed): that is
 * refused, and the temporary folder removed.
 */
export async function createDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  checkNameLength(dir);
  const parent = path.dirname(dir);
  await fsp.mkdir(parent, { recursive: true });
  const tmp = tempSibling(dir);
  await fsp.mkdir(tmp);
  try {
    await fill(tmp);
    await fsyncDir(tmp);
    if (await exists(dir)) throw existsError(dir);
    try {
      // rename(2) takes the place of an empty folder only; a non-empty one makes it fail.
      await fsp.rename(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM' || code === 'ENOTDIR')
        throw existsError(dir);
      throw e;
    }
    await fsyncDir(parent);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    const st = await fsp.lstat(p);
    return !st.isDirectory() || (await fsp.readdir(p)).length > 0;
  } catch {
    return false;
  }
}

function existsError(dir: string): UserError {
  return new UserError(
    `${dir} exists already: nothing was written into it.`,
    'Choose another name, or move that folder aside.',
    'exists',
  );
}

/** Writes and fsyncs one file inside a folder being filled by createDirAtomic. */
export async function writeFileSynced(file: string, data: string | Uint8Array): Promise<void> {
  const h = await fsp.open(file, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}
