// Runs the CLI in a process of its own and measures what a user's machine would feel: its peak
// resident memory (the kernel's high-water mark, reported by the child as it exits), with a
// guard that kills it past a memory ceiling or when it never ends (a read that hangs, a
// decompression that fills memory), so a test of such a bug fails instead of taking the
// machine down or waiting forever.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startCli } from './cli.ts';
import { tempDir } from './temp.ts';

/** Written by the child as it exits: its peak RSS in KiB (process.resourceUsage().maxRSS). */
const PEAK_HOOK =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(process.env.DECOMPOSER_TEST_PEAK,String(process.resourceUsage().maxRSS)))";

export interface BoundedRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident memory in MiB (the child's own figure, or the guard's last reading when killed). */
  peakMiB: number;
  /** Why the guard killed it, or null when it ended by itself. */
  killed: 'memory' | 'hang' | null;
}

/** The kernel's high-water mark of a live process's RSS, in MiB (Linux), or 0. */
function hwmMiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export function runCliBounded(
  args: string[],
  o: { env?: Record<string, string>; maxMiB: number; hangSeconds: number; cwd?: string },
): Promise<BoundedRun> {
  const dir = tempDir('peak');
  const peakFile = path.join(dir, 'peak');
  return new Promise((resolve, reject) => {
    const p = startCli(args, {
      cwd: o.cwd,
      env: { ...o.env, DECOMPOSER_TEST_PEAK: peakFile },
      nodeArgs: [`--import=${PEAK_HOOK}`],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed: BoundedRun['killed'] = null;
    let seen = 0;
    const watch = setInterval(() => {
      seen = Math.max(seen, hwmMiB(p.pid!));
      if (seen > o.maxMiB && !killed) {
        killed = 'memory';
        p.kill('SIGKILL');
      }
    }, 20);
    const hang = setTimeout(() => {
      if (killed) return;
      killed = 'hang';
      p.kill('SIGKILL');
    }, o.hangSeconds * 1000);
    p.on('error', reject);
    p.on('close', (status) => {
      clearInterval(watch);
      clearTimeout(hang);
      let peakMiB = seen;
      try {
        peakMiB = Math.max(seen, Number(readFileSync(peakFile, 'utf8')) / 1024);
      } catch {
        // killed before it could say
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ status, stdout, stderr, peakMiB, killed });
    });
  });
}

/** What a folder holds, recursively: each entry's kind and content (a link's target, a file's sha256). */
export function folderState(
  dir: string,
  out: Record<string, string> = {},
  prefix = '',
): Record<string, string> {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    const key = prefix + name;
    const st = lstatSync(p);
    if (st.isDirectory()) {
      out[key] = 'folder';
      folderState(p, out, `${key}/`);
    } else
      out[key] = st.isSymbolicLink()
        ? `link ${readlinkSync(p)}`
        : st.isFIFO()
          ? 'fifo'
          : `file ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
  }
  return out;
}
