// Folders the app writes into again and again (a model folder, a checkpoint, a portable
// export): it writes its own files there and never removes one it did not write. A record,
// WRITTEN, lists the files the last write left (with their sizes and digests); a new write
// replaces those files, removes the ones it no longer writes (unless changed since: then they
// are someone's), and leaves everything else in the folder alone. A file of the same name as
// one of ours that the record does not list is someone else's: the write is refused before
// anything changes.
//
// A kill at any moment leaves the folder recoverable: every new file is first written in
// full under a temporary name; then the record is replaced by one naming the renames still
// to do (the journal); then the renames; then the record without them. The next write into
// the folder finishes an interrupted one (renames whose temporary file is still there, then
// the removals), and removes temporary files of processes that are gone.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../common/errors.ts';
import { v } from '../../common/schema.ts';
import { checkNameLength, fsyncDir, TEMP_RE, tempSibling, writeFileAtomic, writeTemp } from './atomic.ts';
import { processAlive } from './lock.ts';

/** The record of the files a folder's last write left (hidden: it is not content). */
export const WRITTEN = '.decomposer-written.json';

/** What an earlier version, which kept no record, wrote in `dir` (read from its own index), or null. */
export type LegacyFiles = (dir: string) => Promise<string[] | null>;

/** A file name directly in the folder: no separators, not `.` or `..`. */
export const isPlainName = (n: string): boolean =>
  n.length > 0 && n !== '.' && n !== '..' && !/[/\\]/.test(n) && !n.includes('\0');

const Name = v.pipe(v.string(), v.check(isPlainName, 'must be a file name in the folder'));
const Entry = v.nullable(v.object({ bytes: v.number(), sha256: v.string() }));
const RecordSchema = v.object({
  format: v.literal('decomposer-written'),
  version: v.literal(1),
  /** Which writer (a model, a portable export): one never claims another's files. */
  kind: v.string(),
  files: v.record(Name, Entry),
  pending: v.optional(
    v.object({
      renames: v.array(v.object({ from: Name, to: Name })),
      remove: v.record(Name, Entry),
    }),
  ),
});
type WrittenRecord = v.InferOutput<typeof RecordSchema>;
type FileEntry = v.InferOutput<typeof Entry>;

/** The files a write owns in a folder; null where an earlier version wrote it without a digest. */
export type Owned = Map<string, FileEntry>;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readRecord(dir: string): Promise<WrittenRecord | null> {
  let text: string;
  try {
    const file = path.join(dir, WRITTEN);
    // A record lists a folder's few files: anything far larger is not one.
    if ((await fsp.stat(file)).size > 1 << 20) return null;
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    const r = v.safeParse(RecordSchema, JSON.parse(text));
    return r.success ? r.output : null;
  } catch {
    return null;
  }
}

async function writeRecord(
  dir: string,
  kind: string,
  files: WrittenRecord['files'],
  pending?: WrittenRecord['pending'],
) {
  const r: WrittenRecord = {
    format: 'decomposer-written',
    version: 1,
    kind,
    files,
    ...(pending ? { pending } : {}),
  };
  await writeFileAtomic(path.join(dir, WRITTEN), JSON.stringify(r, null, 1));
}

/**
 * The files an earlier write of this `kind` left in `dir` as its own: from its record, else
 * (no record) from `legacy`; null when neither names any.
 */
export async function ownedFiles(dir: string, kind: string, legacy?: LegacyFiles): Promise<Owned | null> {
  const r = await readRecord(dir);
  if (r) return r.kind === kind ? new Map(Object.entries(r.files)) : null;
  const names = legacy ? await legacy(dir).catch(() => null) : null;
  return names ? new Map(names.filter(isPlainName).map((n) => [n, null])) : null;
}

const present = (p: string) =>
  fsp.lstat(p).then(
    () => true,
    () => false,
  );

/** Removes `file` when it is still what we wrote (same size and digest); keeps a changed one. */
async function removeIfUnchanged(file: string, entry: FileEntry): Promise<void> {
  let st;
  try {
    st = await fsp.lstat(file);
  } catch {
    return;
  }
  if (!st.isFile()) return;
  if (entry) {
    if (st.size !== entry.bytes) return;
    if (sha256(await fsp.readFile(file)) !== entry.sha256) return;
  }
  await fsp.rm(file, { force: true });
}

/** Removes temporary files (TEMP_RE) whose process is gone: what a killed write left. */
async function sweepTemps(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    const m = TEMP_RE.exec(name);
    if (m && processAlive(Number(m[1]), null) === false) await fsp.rm(path.join(dir, name), { force: true });
  }
}

/** Finishes a write that a kill interrupted after its journal was on disk; sweeps stale temporaries. */
async function settle(dir: string): Promise<void> {
  const r = await readRecord(dir);
  if (r?.pending) {
    for (const { from, to } of r.pending.renames) {
      try {
        await fsp.rename(path.join(dir, from), path.join(dir, to));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // renamed before the kill
      }
    }
    await fsyncDir(dir);
    for (const [name, entry] of Object.entries(r.pending.remove))
      await removeIfUnchanged(path.join(dir, name), entry);
    await writeRecord(dir, r.kind, r.files);
  }
  await sweepTemps(dir);
}

function foreignError(dir: string, name: string): UserError {
  return new UserError(
    `${path.join(dir, name)} was not written by Decomposer: nothing was written into ${dir}.`,
    `Move that file aside, or choose another folder.`,
    'not-ours',
  );
}

export interface FolderWriter {
  /** Writes one file of the folder (a name directly in it). */
  put(name: string, data: string | Uint8Array): Promise<void>;
}

/**
 * Writes the files `fill` puts into `dir` (created if needed), as described above: the files
 * of the folder's last write are replaced or removed, nothing else is touched. `legacy` names
 * what an earlier version wrote there without a record. `kind` names the writer: files another
 * writer recorded are never this one's.
 */
export async function writeOwnedFolder(
  dir: string,
  kind: string,
  fill: (w: FolderWriter) => Promise<void>,
  opts: { legacy?: LegacyFiles } = {},
): Promise<void> {
  checkNameLength(dir);
  await fsp.mkdir(dir, { recursive: true });
  await settle(dir);
  const before: Owned = (await ownedFiles(dir, kind, opts.legacy)) ?? new Map();
  const staged: { name: string; tmp: string; entry: NonNullable<FileEntry> }[] = [];
  try {
    await fill({
      async put(name, data) {
        if (!isPlainName(name) || name === WRITTEN || staged.some((s) => s.name === name))
          throw new Error(`${name}: not a file name of its own in ${dir}`);
        if (!before.has(name) && (await present(path.join(dir, name)))) throw foreignError(dir, name);
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        const tmp = tempSibling(path.join(dir, name));
        await writeTemp(tmp, bytes);
        staged.push({
          name,
          tmp: path.basename(tmp),
          entry: { bytes: bytes.byteLength, sha256: sha256(bytes) },
        });
      },
    });
  } catch (e) {
    for (const s of staged) await fsp.rm(path.join(dir, s.tmp), { force: true });
    throw e;
  }
  const files: WrittenRecord['files'] = Object.fromEntries(staged.map((s) => [s.name, s.entry]));
  const remove = Object.fromEntries([...before].filter(([n]) => !Object.hasOwn(files, n)));
  // The journal: from here on, the write is finished by whoever writes the folder next.
  await writeRecord(dir, kind, files, { renames: staged.map((s) => ({ from: s.tmp, to: s.name })), remove });
  await settle(dir);
}

/**
 * Removes what the last write into `dir` left (the files it still owns, and its record), then
 * the folder itself when nothing else is in it. Someone else's files, and the folder with
 * them, stay.
 */
export async function removeOwnedFolder(dir: string, kind: string, legacy?: LegacyFiles): Promise<void> {
  await settle(dir);
  const owned = await ownedFiles(dir, kind, legacy);
  if (!owned) return;
  for (const [name, entry] of owned) await removeIfUnchanged(path.join(dir, name), entry);
  await fsp.rm(path.join(dir, WRITTEN), { force: true });
  try {
    await fsp.rmdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw e;
  }
}
