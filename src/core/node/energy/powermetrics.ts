// macOS: powermetrics, when it can run without a password prompt (`sudo -n`, e.g. with a
// sudoers line `youruser ALL=(root) NOPASSWD: /usr/bin/powermetrics`). It runs as one
// long-lived process that prints a report every interval; we read the CPU, GPU and DRAM
// powers from each report. Apple silicon prints "CPU Power: N mW"; Intel Macs print
// "Intel energy model derived package power (CPUs+GPU+DRAM): N W" (package incl. DRAM).
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export interface PowermetricsReading {
  cpuW: number;
  gpuW: number;
  dramW: number;
}

function watts(text: string, label: RegExp): number | null {
  const m = label.exec(text);
  if (!m) return null;
  const v = Number(m[1]);
  return m[2]?.toLowerCase() === 'mw' ? v / 1000 : v;
}

/** Reads one powermetrics report. */
export function parsePowermetrics(text: string): PowermetricsReading | null {
  const pkg = watts(text, /package power[^:]*:\s*([\d.]+)\s*(m?W)/i);
  const cpu = watts(text, /^CPU Power:\s*([\d.]+)\s*(m?W)/im);
  const gpu = watts(text, /^GPU Power:\s*([\d.]+)\s*(m?W)/im) ?? 0;
  const dram = watts(text, /^DRAM Power:\s*([\d.]+)\s*(m?W)/im) ?? 0;
  if (cpu !== null) return { cpuW: cpu, gpuW: gpu, dramW: dram };
  if (pkg !== null) return { cpuW: pkg, gpuW: 0, dramW: 0 };
  return null;
}

export const POWERMETRICS_ARGS = ['-n', 'powermetrics', '--samplers', 'cpu_power,gpu_power'];

/** Whether `sudo -n powermetrics` works here (macOS only). */
export function probePowermetrics(): Promise<{ usable: boolean; problem: string | null }> {
  if (process.platform !== 'darwin')
    return Promise.resolve({ usable: false, problem: 'powermetrics is macOS only.' });
  return new Promise((resolve) => {
    execFile('sudo', [...POWERMETRICS_ARGS, '-i', '200', '-n', '1'], { timeout: 5000 }, (err, out) => {
      if (err || !parsePowermetrics(out))
        resolve({
          usable: false,
          problem:
            'sudo -n powermetrics needs a password; allow it with a sudoers line: ' +
            `${process.env.USER ?? 'youruser'} ALL=(root) NOPASSWD: /usr/bin/powermetrics`,
        });
      else resolve({ usable: true, problem: null });
    });
  });
}

/** Streams powermetrics reports and integrates their powers between calls. */
export class PowermetricsCounter {
  private proc: ChildProcess | null = null;
  private buf = '';
  private last: PowermetricsReading | null = null;
  private lastT = performance.now();
  missed = 0;

  start(intervalMs: number): void {
    this.proc = spawn('sudo', [...POWERMETRICS_ARGS, '-i', String(Math.max(100, intervalMs))], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (chunk: string) => {
      this.buf += chunk;
      const parts = this.buf.split(/\n(?=\*\*\* Sampled system activity)/);
      this.buf = parts.pop() ?? '';
      for (const p of parts) this.last = parsePowermetrics(p) ?? this.last;
    });
    this.proc.unref();
  }

  sample(): { cpuJ: number; dramJ: number; gpuJ: number } {
    const t = performance.now();
    const secs = (t - this.lastT) / 1000;
    this.lastT = t;
    if (!this.last) {
      this.missed++;
      return { cpuJ: 0, dramJ: 0, gpuJ: 0 };
    }
    return { cpuJ: this.last.cpuW * secs, dramJ: this.last.dramW * secs, gpuJ: this.last.gpuW * secs };
  }

  close(): void {
    this.proc?.kill();
    this.proc = null;
  }
}
