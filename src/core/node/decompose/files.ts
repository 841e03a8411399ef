// Module sets on disk: <modelDir>/modules/<run-id>/manifest.json + modules.bin, written
// atomically. The manifest says how the modules were made and where each module's data
// lies in modules.bin; modules.bin holds, per module: for every mask layer its removed
// bitset then its CI/TI bitset (bitset.ts), the head's kept-input bitset, then (4-byte
// aligned) the head's concerned and unconcerned weights (float32 LE, F each) and two biases.
// Loading checks modules.bin's sha256 (a folder edited by hand) and the parent model's hash.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { isUserError, UserError } from '../../common/errors.ts';
import { createDirAtomic, writeFileSynced } from '../fs/atomic.ts';
import { readRegularInto, readRegularText, regularSize, TEXT_MAX } from '../fs/read.ts';
import type { ModelPlan } from '../graph/plan.ts';
import { bitsetBytes, countOnes, onesOf, packBits, unpackBits } from './bitset.ts';
import { DECOMPOSE_VERSION, type Approach, type ModuleData, type ModuleSet } from './decompose.ts';
import {
  checkModulesFitModel,
  editedModules,
  moduleBytes,
  MODULES_FORMAT,
  parseModulesManifest,
  type ModulesManifest,
} from './manifest.ts';

export const MODULES_DIR = 'modules';
export const MANIFEST = 'manifest.json';
export const MODULES_BIN = 'modules.bin';

/** The module set's settings as written, plus where each module's bytes are (manifest.ts). */
type Manifest = ModulesManifest;

export interface SavedModuleSet {
  runId: string;
  dir: string;
  createdAt: string;
  approach: Approach;
  /** Where activity was observed (sets of several points are saved side by side). */
  point: string;
  modules: number;
  meanJi: number;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function encodeModule(set: ModuleSet, m: ModuleData, out: Uint8Array): void {
  let o = 0;
  for (const l of set.layers) {
    for (const v of [m.removed.get(l.name)!, m.forced.get(l.name)!]) {
      packBits(v, out.subarray(o, o + bitsetBytes(l.size)));
      o += bitsetBytes(l.size);
    }
  }
  packBits(m.head.keep, out.subarray(o, o + bitsetBytes(set.features)));
  o += bitsetBytes(set.features);
  o = (o + 3) & ~3;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const w of [m.head.wc, m.head.wuc])
    for (let i = 0; i < w.length; i++, o += 4) dv.setFloat32(o, w[i]!, true);
  dv.setFloat32(o, m.head.bc, true);
  dv.setFloat32(o + 4, m.head.buc, true);
}

function newRunId(approach: Approach): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const slug = approach.toLowerCase().replace(/\+/g, '-');
  return `${t}-${slug}-${randomBytes(2).toString('hex')}`;
}

/**
 * Saves a module set under <modelDir>/modules/<run-id>/ (a new folder, never one that is there)
 * and returns its folder. A fresh id that another save took first is drawn again.
 */
export async function saveModuleSet(modelDir: string, set: ModuleSet, runId?: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await writeModuleSet(modelDir, set, runId ?? newRunId(set.approach));
    } catch (e) {
      if (runId !== undefined || attempt >= 4 || !(isUserError(e) && e.code === 'exists')) throw e;
    }
  }
}

async function writeModuleSet(modelDir: string, set: ModuleSet, runId: string): Promise<string> {
  const per = moduleBytes(set);
  const bin = new Uint8Array(per * set.modules.length);
  set.modules.forEach((m, i) => encodeModule(set, m, bin.subarray(i * per, (i + 1) * per)));
  const manifest: Manifest = {
    format: MODULES_FORMAT,
    version: DECOMPOSE_VERSION,
    runId,
    createdAt: new Date().toISOString(),
    approach: set.approach,
    point: set.point,
    delta: set.delta,
    rule: set.rule,
    seed: set.seed,
    perClass: set.perClass,
    unconcerned: set.unconcerned,
    k: set.k,
    sample: set.sample,
    warnings: set.warnings,
    parent: set.parent,
    layers: set.layers,
    features: set.features,
    needsFullMasks: set.needsFullMasks,
    seconds: set.seconds,
    engine: set.engine,
    bin: { bytes: bin.byteLength, sha256: sha256(bin) },
    modules: set.modules.map((m, i) => ({
      classIndex: m.classIndex,
      className: m.className,
      offset: i * per,
      bytes: per,
      kept: m.kept,
      total: m.total,
      ji: m.ji,
      bc: m.head.bc,
      buc: m.head.buc,
    })),
  };
  const dir = path.join(modelDir, MODULES_DIR, runId);
  await createDirAtomic(dir, async (tmp) => {
    await writeFileSynced(path.join(tmp, MODULES_BIN), bin);
    await writeFileSynced(path.join(tmp, MANIFEST), JSON.stringify(manifest));
  });
  return dir;
}

async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readRegularText(path.join(dir, MANIFEST), { maxBytes: TEXT_MAX });
  } catch (e) {
    if (isUserError(e)) throw editedModules(dir, e.message);
    throw new UserError(
      `No modules in ${dir} (no ${MANIFEST}).`,
      'Give a folder made by `decomposer decompose` (see `decomposer decompose --list`).',
      'no-modules',
    );
  }
  return parseModulesManifest(text, dir);
}

/**
 * Loads a module set made from the model whose plan is given: the manifest is checked whole,
 * against the model (its hash, masked layers and head) and against modules.bin's size and
 * sha256, before any module is unpacked.
 */
export async function loadModuleSet(dir: string, opts: { plan: ModelPlan }): Promise<ModuleSet> {
  const m = await readManifest(dir);
  checkModulesFitModel(m, opts.plan, dir);
  const binFile = path.join(dir, MODULES_BIN);
  let bin: Uint8Array;
  try {
    const bytes = await regularSize(binFile);
    if (bytes !== m.bin.bytes)
      throw editedModules(dir, `${MODULES_BIN} holds ${bytes} bytes, not the ${m.bin.bytes} of its manifest`);
    bin = new Uint8Array(bytes);
    await readRegularInto(binFile, bin);
  } catch (e) {
    if (isUserError(e) && e.code === 'bad-modules') throw e;
    throw editedModules(dir, isUserError(e) ? e.message : `${MODULES_BIN} is missing`);
  }
  if (sha256(bin) !== m.bin.sha256) throw editedModules(dir, `${MODULES_BIN} does not match its manifest`);
  const F = m.features;
  const modules: ModuleData[] = m.modules.map((e) => {
    const buf = bin.subarray(e.offset, e.offset + e.bytes);
    let o = 0;
    const removed = new Map<string, Uint8Array>();
    const forced = new Map<string, Uint8Array>();
    for (const l of m.layers) {
      const b = bitsetBytes(l.size);
      removed.set(l.name, unpackBits(buf.subarray(o, o + b), l.size));
      forced.set(l.name, unpackBits(buf.subarray(o + b, o + 2 * b), l.size));
      o += 2 * b;
    }
    const keep = unpackBits(buf.subarray(o, o + bitsetBytes(F)), F);
    o = (o + bitsetBytes(F) + 3) & ~3;
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const wc = new Float32Array(F);
    const wuc = new Float32Array(F);
    for (let i = 0; i < F; i++, o += 4) wc[i] = dv.getFloat32(o, true);
    for (let i = 0; i < F; i++, o += 4) wuc[i] = dv.getFloat32(o, true);
    const head = { wc, wuc, bc: dv.getFloat32(o, true), buc: dv.getFloat32(o + 4, true), keep };
    let gone = 0;
    for (const v of removed.values()) gone += countOnes(v);
    const total = m.layers.reduce((s, l) => s + l.size, 0);
    return {
      classIndex: e.classIndex,
      className: e.className,
      removed,
      forced,
      head,
      kept: total - gone,
      total,
      ji: total ? (total - gone) / total : 1,
    };
  });
  return {
    approach: m.approach,
    point: m.point,
    delta: m.delta,
    rule: m.rule,
    seed: m.seed,
    perClass: m.perClass,
    unconcerned: m.unconcerned,
    k: m.k,
    sample: m.sample,
    warnings: m.warnings,
    parent: m.parent,
    layers: m.layers,
    features: F,
    needsFullMasks: m.needsFullMasks,
    modules,
    seconds: m.seconds,
    engine: m.engine,
    version: m.version,
  };
}

/** The module sets saved next to a model, newest first. Damaged folders are skipped. */
export async function listModuleSets(modelDir: string): Promise<SavedModuleSet[]> {
  const root = path.join(modelDir, MODULES_DIR);
  let names: string[];
  try {
    names = (await fsp.readdir(root, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch {
    return [];
  }
  const out: SavedModuleSet[] = [];
  for (const name of names) {
    try {
      const m = await readManifest(path.join(root, name));
      out.push({
        runId: m.runId,
        dir: path.join(root, name),
        createdAt: m.createdAt,
        approach: m.approach,
        point: m.point,
        modules: m.modules.length,
        meanJi: m.modules.reduce((s, x) => s + x.ji, 0) / Math.max(1, m.modules.length),
      });
    } catch {
      // not a module set
    }
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
}

/** Deletes a module set: its own files, then its folder when nothing else is in it. */
export async function deleteModuleSet(dir: string): Promise<void> {
  await readManifest(dir);
  for (const f of [MODULES_BIN, MANIFEST]) await fsp.rm(path.join(dir, f), { force: true });
  await fsp.rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
  });
}

/**
 * The removed positions of every module in a tool-neutral form: per layer, the flattened
 * indices of the layer's output tensor ([H, W, C] row-major: index = (y * W + x) * C + c;
 * Dense: the unit), and the head inputs MC-BLN removed.
 */
export function exportRemoved(set: ModuleSet): object {
  return {
    format: 'decomposer-removed-positions',
    version: 1,
    indexing:
      'flattened index into the layer output without the batch axis, row-major height-width-channel: (y * W + x) * C + c; Dense: unit index',
    model: set.parent,
    approach: set.approach,
    point: set.point,
    delta: set.delta,
    rule: set.rule,
    modules: set.modules.map((m) => ({
      classIndex: m.classIndex,
      className: m.className,
      jaccard: m.ji,
      layers: set.layers.map((l) => ({
        name: l.name,
        shape: l.shape,
        removed: onesOf(m.removed.get(l.name)!),
      })),
      headInputsRemoved: onesOf(m.head.keep.map((v) => 1 - v)),
    })),
  };
}
