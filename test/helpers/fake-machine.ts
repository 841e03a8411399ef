// A fake machine for attribution tests: a /proc tree (the machine's /proc/stat, processes'
// stat files and children lists) and a powercap tree with one RAPL package. Their folders are
// real; what the files hold is computed when they are read, from the time since the machine
// started (`live`), so a loaded test machine that delays timers cannot make the counters
// disagree with each other or with the meter's clock. The RAPL counter can be caught
// mid-rewrite, as sysfs readers may find it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FileReader } from '../../src/core/node/energy/powercap.ts';

const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

/** One process as /proc/<pid>/stat shows it (ticks of 1/100 s). */
export interface FakeProcess {
  pid: number;
  ppid: number;
  utime: number;
  stime?: number;
  cutime?: number;
  cstime?: number;
  start?: number;
  /** Its children, as /proc/<pid>/task/<pid>/children lists them. */
  children?: number[];
}

export function pidStat(p: FakeProcess): string {
  const f = Array.from({ length: 52 }, () => '0');
  f[0] = String(p.pid);
  f[1] = '(node (worker) x)'; // a name with spaces and parentheses, as a thread may set
  f[2] = 'S';
  f[3] = String(p.ppid);
  f[13] = String(Math.round(p.utime));
  f[14] = String(Math.round(p.stime ?? 0));
  f[15] = String(Math.round(p.cutime ?? 0));
  f[16] = String(Math.round(p.cstime ?? 0));
  f[21] = String(p.start ?? 1000 + p.pid);
  return `${f.join(' ')}\n`;
}

const enoent = (file: string) => Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });

/** What the machine's counters read at one moment. */
export interface MachineState {
  /** Busy and idle ticks summed over the machine's CPUs. */
  busy: number;
  idle: number;
  processes: FakeProcess[];
  /** The RAPL package counter, joules since the start. */
  joules?: number;
}

/** A /proc tree under a temporary folder; `set` (or a live reader) says what it holds. */
export class FakeProc {
  readonly root = tmp('dec-proc-');
  private state: MachineState = { busy: 0, idle: 0, processes: [] };

  /** The machine and its processes now: those not given are gone. */
  set(state: MachineState): void {
    this.state = state;
    for (const p of state.processes)
      fs.mkdirSync(path.join(this.root, String(p.pid), 'task', String(p.pid)), { recursive: true });
    const alive = new Set(state.processes.map((p) => String(p.pid)));
    for (const d of fs.readdirSync(this.root))
      if (/^\d+$/.test(d) && !alive.has(d)) fs.rmSync(path.join(this.root, d), { recursive: true });
    if (!fs.existsSync(path.join(this.root, 'stat'))) fs.writeFileSync(path.join(this.root, 'stat'), '');
  }

  /** A file of the tree as the kernel would serve it now, or undefined for a path outside it. */
  read(file: string): string | undefined {
    const rel = path.relative(this.root, file);
    if (rel.startsWith('..')) return undefined;
    const s = this.state;
    if (rel === 'stat')
      return `cpu  ${Math.round(s.busy)} 0 0 ${Math.round(s.idle)} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\nintr 0\n`;
    const m = /^(\d+)\/(stat|task\/\d+\/children)$/.exec(rel);
    const p = m && s.processes.find((x) => x.pid === Number(m[1]));
    if (!p) throw enoent(file);
    return m[2] === 'stat' ? pidStat(p) : (p.children ?? []).map((c) => `${c} `).join('');
  }
}

/** A powercap tree with one package zone, wrapping at `maxUj`, starting at `offsetJ` (so it wraps soon). */
export class FakeRapl {
  readonly root = tmp('dec-powercap-');
  readonly file: string;
  readonly maxUj: number;
  private readonly offsetUj: number;
  private reads = 0;
  /** Every other read finds the counter mid-rewrite (empty). */
  tearing = false;

  constructor(maxUj = 262_143_328_850, offsetJ = 0) {
    this.maxUj = maxUj;
    this.offsetUj = Math.round(offsetJ * 1e6);
    const dir = path.join(this.root, 'intel-rapl:0');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'name'), 'package-0\n');
    fs.writeFileSync(path.join(dir, 'max_energy_range_uj'), `${maxUj}\n`);
    this.file = path.join(dir, 'energy_uj');
    fs.writeFileSync(this.file, '0\n');
  }

  /** The counter's text for `joules` since the start. */
  text(joules: number): string {
    if (this.tearing && this.reads++ % 2) return '';
    return `${(this.offsetUj + Math.round(joules * 1e6)) % this.maxUj}\n`;
  }
}

/**
 * A reader of both trees that computes their files from `state(seconds since now)` at every
 * read (other files are read from disk).
 */
export function liveMachine(
  proc: FakeProc,
  rapl: FakeRapl | null,
  state: (s: number) => MachineState,
): FileReader {
  const t0 = performance.now();
  const now = () => {
    const st = state((performance.now() - t0) / 1000);
    proc.set(st);
    return st;
  };
  now();
  return (file) => {
    if (rapl && file === rapl.file) return rapl.text(now().joules ?? 0);
    if (path.relative(proc.root, file).startsWith('..')) return fs.readFileSync(file, 'utf8');
    now();
    return proc.read(file)!;
  };
}

/**
 * For other processes, which read the files themselves: writes the counter for `joules(s)`
 * every `everyMs`, `s` the seconds since now. Returns a function that stops it.
 */
export function driveRapl(rapl: FakeRapl, joules: (s: number) => number, everyMs = 5): () => void {
  const t0 = performance.now();
  const write = () => fs.writeFileSync(rapl.file, rapl.text(joules((performance.now() - t0) / 1000)));
  write();
  const timer = setInterval(write, everyMs);
  return () => clearInterval(timer);
}
