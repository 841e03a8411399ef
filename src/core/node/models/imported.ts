// The models imported here (<home>/models.json, written atomically): which folders hold an
// imported model, so the app lists them beside the models trained here (which the run store
// lists). The folder's own plan.json is the record of the model; this only points to it.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { v } from '../../common/schema.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { readRegularText, TEXT_MAX } from '../fs/read.ts';

const ENTRY = v.object({ dir: v.string(), importedAt: v.string() });
export type ImportedModelEntry = v.InferOutput<typeof ENTRY>;

const registryFile = (home: string) => path.join(home, 'models.json');

/** The entries as written; an entry that does not fit its schema is left out, the others listed. */
export async function importedModels(home: string): Promise<ImportedModelEntry[]> {
  let list: unknown;
  try {
    list = JSON.parse(await readRegularText(registryFile(home), { maxBytes: TEXT_MAX }));
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  return list.flatMap((e) => {
    const r = v.safeParse(ENTRY, e);
    return r.success ? [r.output] : [];
  });
}

/** Adds (or moves to the end) a folder's entry. */
export async function addImportedModel(home: string, entry: ImportedModelEntry): Promise<void> {
  const list = (await importedModels(home)).filter((e) => path.resolve(e.dir) !== path.resolve(entry.dir));
  list.push(entry);
  await fsp.mkdir(home, { recursive: true });
  await writeFileAtomic(registryFile(home), JSON.stringify(list, null, 1));
}
