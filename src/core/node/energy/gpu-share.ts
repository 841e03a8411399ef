// Each NVIDIA GPU's share that belongs to a run: from `nvidia-smi pmon` (per-process SM
// utilisation, NVML's process samples), else from `nvidia-smi --query-compute-apps` (which
// processes hold memory on which GPU: the run's share of the memory in use). A GPU the run
// has no process on gets nothing. pmon takes about a second per reading, so the shares are
// read beside the power samples, on their own loop, and each power sample uses the latest.
import { execFile } from 'node:child_process';

export interface PmonRow {
  gpu: number;
  pid: number;
  /** SM utilisation, %, 0 where pmon printed '-'. */
  sm: number;
}

/** `nvidia-smi pmon -c 1 -s u` output: a header naming the columns, then one row per process per GPU. */
export function parsePmon(text: string): PmonRow[] | null {
  const lines = text.split(/\r?\n/);
  const header = lines.find((l) => /^#\s*gpu\b/i.test(l));
  if (!header) return null;
  const cols = header.replace(/^#/, '').trim().toLowerCase().split(/\s+/);
  const [gi, pi, si] = ['gpu', 'pid', 'sm'].map((c) => cols.indexOf(c));
  if (gi! < 0 || pi! < 0 || si! < 0) return null;
  const rows: PmonRow[] = [];
  for (const l of lines) {
    if (!l.trim() || l.trimStart().startsWith('#')) continue;
    const f = l.trim().split(/\s+/);
    const gpu = Number(f[gi!]);
    const pid = Number(f[pi!]);
    if (!Number.isInteger(gpu) || !Number.isInteger(pid)) continue; // '-': no process on it
    const sm = Number(f[si!]);
    rows.push({ gpu, pid, sm: Number.isFinite(sm) ? sm : 0 });
  }
  return rows;
}

export interface ComputeApp {
  uuid: string;
  pid: number;
  memoryMiB: number;
}

/** `--query-compute-apps=gpu_uuid,pid,used_memory --format=csv,noheader,nounits` rows. */
export function parseComputeApps(text: string): ComputeApp[] {
  const out: ComputeApp[] = [];
  for (const l of text.split(/\r?\n/)) {
    const c = l.split(',').map((x) => x.trim());
    if (c.length < 3) continue;
    const pid = Number(c[1]);
    const mem = Number(c[2]);
    if (Number.isInteger(pid)) out.push({ uuid: c[0]!, pid, memoryMiB: Number.isFinite(mem) ? mem : 0 });
  }
  return out;
}

/** Per GPU (by index): the run's share from pmon rows; a GPU without SM samples splits by process count. */
export function sharesFromPmon(rows: PmonRow[], gpus: number[], pids: ReadonlySet<number>): number[] {
  return gpus.map((g) => {
    const on = rows.filter((r) => r.gpu === g);
    const mine = on.filter((r) => pids.has(r.pid));
    if (!mine.length) return 0;
    const sm = on.reduce((s, r) => s + r.sm, 0);
    if (sm > 0) return mine.reduce((s, r) => s + r.sm, 0) / sm;
    return mine.length / on.length;
  });
}

/** Per GPU (by index): the run's share of the memory its processes hold. */
export function sharesFromApps(
  apps: ComputeApp[],
  gpus: number[],
  uuids: Map<number, string>,
  pids: ReadonlySet<number>,
): number[] {
  return gpus.map((g) => {
    const on = apps.filter((a) => a.uuid === uuids.get(g));
    const mine = on.filter((a) => pids.has(a.pid));
    if (!mine.length) return 0;
    const mem = on.reduce((s, a) => s + a.memoryMiB, 0);
    return mem > 0 ? mine.reduce((s, a) => s + a.memoryMiB, 0) / mem : mine.length / on.length;
  });
}

function run(cmd: string, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: timeoutMs, windowsHide: true }, (err, out) =>
      err ? reject(err) : resolve(out),
    ),
  );
}

/** Shares of the measured GPUs, read on a loop of their own. */
export class GpuShares {
  readonly cmd: string;
  readonly gpus: number[];
  /** Which reading gives the shares (for the run's record). */
  method = 'nvidia-smi pmon';
  private latest: number[] | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private uuids: Map<number, string> | null = null;
  private readonly pids: () => number[];
  private readonly everyMs: number;

  constructor(cmd: string, gpus: number[], pids: () => number[], everyMs = 1000) {
    this.cmd = cmd;
    this.gpus = gpus;
    this.pids = pids;
    this.everyMs = everyMs;
  }

  /** Takes a first reading, then keeps reading until close(). */
  async start(): Promise<void> {
    await this.read();
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.read().finally(() => this.schedule());
    }, this.everyMs);
    this.timer.unref();
  }

  private async read(): Promise<void> {
    const pids = new Set(this.pids());
    if (this.method === 'nvidia-smi pmon') {
      const rows = await run(this.cmd, ['pmon', '-c', '1', '-s', 'u']).then(parsePmon, () => null);
      if (rows) {
        this.latest = sharesFromPmon(rows, this.gpus, pids);
        return;
      }
      this.method = 'nvidia-smi --query-compute-apps (memory held; pmon gave no reading)';
    }
    try {
      this.uuids ??= new Map(
        (await run(this.cmd, ['--query-gpu=index,uuid', '--format=csv,noheader']))
          .split(/\r?\n/)
          .map((l) => l.split(',').map((x) => x.trim()))
          .filter((c) => c.length >= 2 && /^\d+$/.test(c[0]!))
          .map((c) => [Number(c[0]), c[1]!] as [number, string]),
      );
      const apps = parseComputeApps(
        await run(this.cmd, [
          '--query-compute-apps=gpu_uuid,pid,used_memory',
          '--format=csv,noheader,nounits',
        ]),
      );
      this.latest = sharesFromApps(apps, this.gpus, this.uuids, pids);
    } catch {
      this.latest = null;
      this.method = 'none (neither pmon nor --query-compute-apps answered): split like the CPU';
    }
  }

  /** The latest shares per measured GPU, or null when none could be read. */
  shares(): number[] | null {
    return this.latest;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
  }
}
