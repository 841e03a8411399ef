// Runs train-child.ts (a training on a small colour dataset) in a process of its own: started
// and watched epoch by epoch (`startTrainChild`: a run to hold a folder, or to kill), or to its
// end, optionally killed with SIGKILL once it has finished a given epoch (`runTrainChild`:
// what the resume tests of both training engines use).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TrainResult } from '../../src/core/node/train/trainer.ts';

const script = path.join(import.meta.dirname, 'train-child.ts');

export interface TrainChild {
  child: ChildProcess;
  /** Its end: the training's result when it finished, and whether it was killed. */
  done: Promise<{ result?: TrainResult; killed: boolean }>;
}

/**
 * Starts a training of `epochs` epochs in `runDir`; `onEpoch` hears each epoch it finishes.
 * With `holdAfterEpoch` the child waits after that epoch (its checkpoint written) to be killed.
 */
export function startTrainChild(
  runDir: string,
  epochs: number,
  o: { holdAfterEpoch?: number; workers?: number; backend?: string; onEpoch?: (epoch: number) => void } = {},
): TrainChild {
  const args = [
    script,
    runDir,
    String(epochs),
    String(o.workers ?? 0),
    o.backend ?? '',
    o.holdAfterEpoch === undefined ? '' : String(o.holdAfterEpoch),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<{ result?: TrainResult; killed: boolean }>((resolve, reject) => {
    let out = '';
    let result: TrainResult | undefined;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) {
        const msg = JSON.parse(l) as { epoch?: number; result?: TrainResult };
        if (msg.result) result = msg.result;
        if (msg.epoch !== undefined) o.onEpoch?.(msg.epoch);
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ result, killed: signal === 'SIGKILL' }));
  });
  return { child, done };
}

/** A training to its end, or killed with SIGKILL once it has finished epoch `killAfterEpoch`. */
export function runTrainChild(
  runDir: string,
  epochs: number,
  o: { killAfterEpoch?: number; workers?: number; backend?: string } = {},
): Promise<{ result?: TrainResult; killed: boolean }> {
  const t = startTrainChild(runDir, epochs, {
    workers: o.workers,
    backend: o.backend,
    holdAfterEpoch: o.killAfterEpoch,
    onEpoch: (epoch) => {
      if (epoch === o.killAfterEpoch) t.child.kill('SIGKILL');
    },
  });
  return t.done;
}
