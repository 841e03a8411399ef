// A fake machine for attribution tests: a /proc tree (the machine's /proc/stat, processes'
// stat files and children lists) and a powercap tree with one RAPL package, both driven by
// the test over real time. /proc files are replaced whole, as the kernel serves them; the RAPL
// counter can be rewritten in place (truncate, then write), as sysfs readers may catch it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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

const replace = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const t = `${file}.tmp`;
  fs.writeFileSync(t, text);
  fs.renameSync(t, file);
};

/** A /proc tree under a temporary folder. */
export class FakeProc {
  readonly root = tmp('dec-proc-');
  private pids = new Set<number>();

  /** The machine: busy and idle ticks summed over its CPUs. */
  machine(busy: number, idle: number): void {
    const b = Math.round(busy);
    const i = Math.round(idle);
    replace(
      path.join(this.root, 'stat'),
      `cpu  ${b} 0 0 ${i} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\nintr 0\n`,
    );
  }

  /** The processes now: those not given are gone. */
  processes(list: FakeProcess[]): void {
    const now = new Set(list.map((p) => p.pid));
    for (const pid of this.pids)
      if (!now.has(pid)) fs.rmSync(path.join(this.root, String(pid)), { recursive: true, force: true });
    for (const p of list) {
      replace(path.join(this.root, String(p.pid), 'stat'), pidStat(p));
      replace(
        path.join(this.root, String(p.pid), 'task', String(p.pid), 'children'),
        (p.children ?? []).map((c) => `${c} `).join(''),
      );
    }
    this.pids = now;
  }
}

/** A powercap tree with one package zone whose counter the test sets (µJ), wrapping at `maxUj`. */
export class FakeRapl {
  readonly root = tmp('dec-powercap-');
  readonly file: string;
  private readonly maxUj: number;
  private torn = 0;
  /** Rewrite the counter in place (truncate, then write), so that half the reads find it empty. */
  tearing = false;

  constructor(maxUj = 262_143_328_850) {
    this.maxUj = maxUj;
    const dir = path.join(this.root, 'intel-rapl:0');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'name'), 'package-0\n');
    fs.writeFileSync(path.join(dir, 'max_energy_range_uj'), `${maxUj}\n`);
    this.file = path.join(dir, 'energy_uj');
    fs.writeFileSync(this.file, '0\n');
  }

  /** Sets the counter to `joules` since the start (wrapped). */
  set(joules: number): void {
    const uj = Math.round(joules * 1e6) % this.maxUj;
    if (!this.tearing) return fs.writeFileSync(this.file, `${uj}\n`);
    const fd = fs.openSync(this.file, 'r+');
    fs.ftruncateSync(fd, 0);
    if (this.torn++ % 2) fs.writeSync(fd, `${uj}\n`);
    fs.closeSync(fd);
  }
}

/**
 * Drives a fake machine over real time: every `everyMs`, `state(seconds)` says what the
 * counters read `seconds` after the start. Returns a function that stops it.
 */
export function drive(state: (seconds: number) => void, everyMs = 3): () => void {
  const t0 = performance.now();
  state(0);
  const timer = setInterval(() => state((performance.now() - t0) / 1000), everyMs);
  return () => clearInterval(timer);
}
