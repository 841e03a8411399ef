// PyTorch's side of the bench: persistent children (scripts/torch_rounds.py) that time a short
// round of steps on request, so each figure alternates rounds of PyTorch and of our engine in
// the same minutes (the machine's load changes faster than a figure takes).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The Python that has PyTorch: DECOMPOSER_PYTHON, else Debian's (python3-torch), else python3. */
export function torchPython(): string {
  return (
    process.env.DECOMPOSER_PYTHON ?? (existsSync('/usr/bin/python3.11') ? '/usr/bin/python3.11' : 'python3')
  );
}

export type StepKind = 'train' | 'infer';

/** One PyTorch child in one OpenMP wait policy. */
class TorchChild {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly rl: Interface;
  private readonly lines: AsyncIterator<string>;
  readonly version: string;
  readonly threads: number;

  private constructor(
    child: ChildProcessWithoutNullStreams,
    rl: Interface,
    lines: AsyncIterator<string>,
    ready: { version: string; threads: number },
  ) {
    this.child = child;
    this.rl = rl;
    this.lines = lines;
    this.version = ready.version;
    this.threads = ready.threads;
  }

  static async start(
    depth: number,
    size: number,
    batch: number,
    threads: number,
    /** OMP_WAIT_POLICY, or null for PyTorch's default (spin briefly, then sleep). */
    waitPolicy: string | null,
  ): Promise<TorchChild | string> {
    const script = path.resolve(import.meta.dirname, '../../../../scripts/torch_rounds.py');
    if (!existsSync(script)) return `no PyTorch bench script at ${script}`;
    const python = torchPython();
    const args = ['--depth', depth, '--size', size, '--batch', batch, '--threads', threads].map(String);
    const env = { ...process.env };
    if (waitPolicy) env.OMP_WAIT_POLICY = waitPolicy;
    else delete env.OMP_WAIT_POLICY;
    const child = spawn(python, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const spawned = new Promise<string | null>((resolve) => {
      child.on('error', (e) => resolve(e.message));
      child.on('spawn', () => resolve(null));
    });
    const failed = await spawned;
    if (failed) return `PyTorch benchmark failed to start: ${failed}`;
    const rl = createInterface({ input: child.stdout });
    const lines = rl[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) {
      await new Promise((r) => (child.exitCode === null ? child.once('close', r) : r(null)));
      const why = stderr.trim().split('\n').pop() ?? '';
      return /No module named 'torch'/.test(why)
        ? 'PyTorch is not installed (apt-get install -y python3-torch)'
        : `PyTorch benchmark failed: ${why}`;
    }
    return new TorchChild(child, rl, lines, JSON.parse(first.value) as { version: string; threads: number });
  }

  /** Seconds per step of one round of about `seconds` (at least one step). */
  async round(kind: StepKind, seconds: number): Promise<number[]> {
    this.child.stdin.write(JSON.stringify({ kind, seconds }) + '\n');
    const line = await this.lines.next();
    if (line.done) throw new Error('the PyTorch benchmark process ended early');
    return (JSON.parse(line.value) as { step_seconds: number[] }).step_seconds;
  }

  close(): void {
    this.rl.close();
    this.child.stdin.end();
    this.child.kill();
  }
}

/**
 * PyTorch in two OpenMP wait policies (or only the one OMP_WAIT_POLICY names): its default
 * (threads spin a while before sleeping) is fastest on a quiet machine, but its threads lose
 * their time slices when anything else runs, where passive ones hold up far better (measured). Each round runs
 * every child for its share of the time, and a figure compares against the faster one.
 */
export class TorchRounds {
  private readonly children: Map<string, TorchChild>;
  readonly version: string;
  readonly threads: number;

  private constructor(children: Map<string, TorchChild>) {
    this.children = children;
    const first = [...children.values()][0]!;
    this.version = first.version;
    this.threads = first.threads;
  }

  static async start(
    depth: number,
    size: number,
    batch: number,
    threads: number,
  ): Promise<TorchRounds | string> {
    // Not ACTIVE: libgomp's threads would then spin for good between rounds and take the
    // cores from the engine measured in between.
    const policies = process.env.OMP_WAIT_POLICY ? [process.env.OMP_WAIT_POLICY] : [null, 'PASSIVE'];
    const children = new Map<string, TorchChild>();
    for (const policy of policies) {
      const c = await TorchChild.start(depth, size, batch, threads, policy);
      if (typeof c === 'string') {
        for (const open of children.values()) open.close();
        return c;
      }
      children.set(policy?.toLowerCase() ?? 'default', c);
    }
    return new TorchRounds(children);
  }

  /** Seconds per step of one round per wait policy, `seconds` in all (at least one step each). */
  async round(kind: StepKind, seconds: number): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    for (const [policy, c] of this.children)
      out.set(policy, await c.round(kind, seconds / this.children.size));
    return out;
  }

  close(): void {
    for (const c of this.children.values()) c.close();
  }
}
