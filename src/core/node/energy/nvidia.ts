// NVIDIA GPUs through nvidia-smi (a setting: nvidiaSmi, DECOMPOSER_NVIDIA_SMI). One row per
// GPU; "[N/A]" means the GPU does not report its power. g in the paper's formula is the
// number of GPUs whose power is read.
import { execFile } from 'node:child_process';

export const DEFAULT_NVIDIA_SMI = 'nvidia-smi';
export const NVIDIA_QUERY = ['--query-gpu=index,name,power.draw', '--format=csv,noheader,nounits'];

export interface GpuRow {
  index: number;
  name: string;
  /** Watts, or null when the GPU reports [N/A]. */
  watts: number | null;
}

/** Parses nvidia-smi's CSV rows. */
export function parseNvidiaSmi(text: string): GpuRow[] {
  const rows: GpuRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length < 3) continue;
    const w = Number(cells[cells.length - 1]);
    rows.push({
      index: Number(cells[0]),
      name: cells.slice(1, -1).join(','),
      watts: /N\/A|not supported/i.test(cells[cells.length - 1]!) || !Number.isFinite(w) ? null : w,
    });
  }
  return rows;
}

export function runNvidiaSmi(cmd: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, NVIDIA_QUERY, { timeout: timeoutMs, windowsHide: true }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
}

export interface NvidiaProbe {
  usable: boolean;
  gpus: GpuRow[];
  /** Indexes of the GPUs whose power is read. */
  measured: number[];
  problem: string | null;
}

export async function probeNvidia(cmd = DEFAULT_NVIDIA_SMI): Promise<NvidiaProbe> {
  let out: string;
  try {
    out = await runNvidiaSmi(cmd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      usable: false,
      gpus: [],
      measured: [],
      problem:
        code === 'ENOENT'
          ? `${cmd} not found (no NVIDIA driver; set DECOMPOSER_NVIDIA_SMI if it lives elsewhere).`
          : `${cmd} failed: ${(e as Error).message.split('\n')[0]}`,
    };
  }
  const gpus = parseNvidiaSmi(out);
  const measured = gpus.filter((g) => g.watts !== null).map((g) => g.index);
  const na = gpus.filter((g) => g.watts === null);
  return {
    usable: measured.length > 0,
    gpus,
    measured,
    problem: !gpus.length
      ? `${cmd} lists no GPU.`
      : na.length
        ? `${na.map((g) => `GPU ${g.index} (${g.name})`).join(', ')} report power.draw [N/A] (not supported)${measured.length ? '; not counted' : ''}.`
        : null,
  };
}

/** Integrates GPU power (trapezoids over the real timestamps) between calls. */
export class NvidiaCounter {
  readonly cmd: string;
  readonly measured: number[];
  private lastW: number[] | null = null;
  private lastT = 0;
  missed = 0;

  constructor(cmd: string, measured: number[]) {
    this.cmd = cmd;
    this.measured = measured;
  }

  /** Power of each measured GPU now, W. */
  async watts(): Promise<number[]> {
    const rows = parseNvidiaSmi(await runNvidiaSmi(this.cmd, 2000));
    return this.measured.map((i) => {
      const w = rows.find((r) => r.index === i)?.watts;
      if (w === null || w === undefined) throw new Error(`GPU ${i} gave no power reading`);
      return w;
    });
  }

  async start(): Promise<void> {
    this.lastW = await this.watts().catch(() => null);
    this.lastT = performance.now();
  }

  /** Joules of each measured GPU since the previous call; a failed reading counts as missed (zeros). */
  async sampleEach(): Promise<number[]> {
    let w: number[];
    try {
      w = await this.watts();
    } catch {
      this.missed++;
      return this.measured.map(() => 0);
    }
    const t = performance.now();
    const prev = this.lastW ?? w;
    const s = (t - this.lastT) / 1000;
    const j = w.map((x, i) => ((prev[i]! + x) / 2) * s);
    this.lastW = w;
    this.lastT = t;
    return j;
  }

  /** Joules (all measured GPUs) since the previous call. */
  async sample(): Promise<number> {
    return (await this.sampleEach()).reduce((a, b) => a + b, 0);
  }
}
