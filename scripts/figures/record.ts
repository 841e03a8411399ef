// Runs the steps of steps.ts and records each one's JSON output with the facts a figure needs
// beside it (the machine, its load, how long it took, the commit), one file per step in
// docs/figures/. The README's quotes are checked against these files (quotes.ts).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STEPS, type Step } from './steps.ts';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const RECORDS = path.join(ROOT, 'docs', 'figures');

export interface Record {
  id: string;
  /** The command as the README names it (`{work}` is the folder it wrote into). */
  command: string;
  commit: string;
  date: string;
  cpu: string;
  cores: number;
  /** 1-minute load average before and after the command. */
  load_before: number;
  load_after: number;
  seconds: number;
  /** The step's background load: seconds after the start its busy loop began (absent: none). */
  load_after_s?: number;
  output: unknown;
}

/** A sentence of the README with holes for one record's values (quotes.ts fills them). */
export interface Quote {
  step: string;
  text: string;
}

export const recordFile = (id: string) => path.join(RECORDS, `${id}.json`);

export function readRecord(id: string, dir = RECORDS): Record | null {
  const f = path.join(dir, `${id}.json`);
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as Record) : null;
}

/**
 * A value at a path of a JSON value: dotted keys and indices (`reuse.0.ma`), a selector that
 * picks the first element whose fields match (`decomposition[point=conv,approach=CI+TI+MC]`),
 * or `[*]` for every element (an array of what follows).
 */
export function at(value: unknown, path: string): unknown {
  const parts = path.match(/[^.[\]]+|\[[^\]]*\]/g) ?? [];
  const walk = (v: unknown, i: number): unknown => {
    if (i === parts.length) return v;
    const p = parts[i]!;
    if (v === null || typeof v !== 'object') return undefined;
    if (!p.startsWith('[')) return walk((v as { [k: string]: unknown })[p], i + 1);
    if (!Array.isArray(v)) return undefined;
    if (p === '[*]') return v.map((x) => walk(x, i + 1));
    const want = p
      .slice(1, -1)
      .split(',')
      .map((kv) => kv.split('=') as [string, string]);
    const hit = v.find(
      (x: unknown) =>
        x !== null &&
        typeof x === 'object' &&
        want.every(([k, w]) => String((x as { [k: string]: unknown })[k]) === w),
    );
    return hit === undefined ? undefined : walk(hit, i + 1);
  };
  return walk(value, 0);
}

/** The step's arguments with `{work}` and `{step.path}` filled in from earlier records. */
export function resolveArgs(step: Step, work: string, records: Map<string, Record>): string[] {
  return step.args.map((a) =>
    a.replace(/\{([^}]+)\}/g, (_, ref: string) => {
      if (ref === 'work') return work;
      const [id, ...rest] = ref.split('.');
      const r = records.get(id!);
      const v = r ? at(r.output, rest.join('.')) : undefined;
      if (typeof v !== 'string' && typeof v !== 'number')
        throw new Error(`step ${step.id} needs ${ref}, which no earlier step recorded: run ${id} first`);
      return String(v);
    }),
  );
}

const commit = () => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};

/** Runs one step (its progress to `log`), returning its record. */
export async function runStep(step: Step, work: string, records: Map<string, Record>, log: fs.WriteStream) {
  const home = step.ownHome ? path.join(work, `${step.id}-home`) : path.join(work, 'home');
  const args = [...resolveArgs(step, work, records), '--home', home];
  const load_before = os.loadavg()[0]!;
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'decomposer.js'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.pipe(log, { end: false });
  const load = backgroundLoad(step, records, log);
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
  const loadAfter = load.stop();
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`step ${step.id} exited ${code}: decomposer ${args.join(' ')}`);
  const rec: Record = {
    id: step.id,
    command: `npx decomposer ${step.args.join(' ')}`,
    commit: commit(),
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    load_before: Math.round(load_before * 100) / 100,
    load_after: Math.round(os.loadavg()[0]! * 100) / 100,
    seconds: Math.round(seconds),
    ...(loadAfter !== null ? { load_after_s: Math.round(loadAfter) } : {}),
    output: JSON.parse(out),
  };
  return rec;
}

/**
 * The step's busy loop: a process of its own (not the command's child, so the command's
 * process attribution does not count it), started once `after` of step `of`'s recorded time
 * has passed. stop() ends it and says when it started (null: it never did).
 */
function backgroundLoad(
  step: Step,
  records: Map<string, Record>,
  log: fs.WriteStream,
): { stop(): number | null } {
  if (!step.load) return { stop: () => null };
  const of = records.get(step.load.of);
  if (!of) throw new Error(`step ${step.id} needs ${step.load.of}'s time: run ${step.load.of} first`);
  const delay = of.seconds * step.load.after;
  let loop: ReturnType<typeof spawn> | null = null;
  const timer = setTimeout(() => {
    log.write(`\n[figures] ${step.id}: busy loop started after ${Math.round(delay)} s\n`);
    loop = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  }, delay * 1000);
  return {
    stop() {
      clearTimeout(timer);
      if (!loop) return null;
      loop.kill('SIGKILL');
      return delay;
    },
  };
}

export { STEPS };
