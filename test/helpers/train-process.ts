// Runs train-child.ts in a process of its own, optionally killing it with SIGKILL once it has
// finished a given epoch: what the resume tests of both training engines use.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TrainResult } from '../../src/core/node/train/trainer.ts';

const child = path.join(import.meta.dirname, 'train-child.ts');

export function runTrainChild(
  runDir: string,
  epochs: number,
  o: { killAfterEpoch?: number; workers?: number; backend?: string } = {},
): Promise<{ result?: TrainResult; killed: boolean }> {
  const args = [
    child,
    runDir,
    String(epochs),
    String(o.workers ?? 0),
    o.backend ?? '',
    o.killAfterEpoch === undefined ? '' : String(o.killAfterEpoch),
  ];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let result: TrainResult | undefined;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) {
        const msg = JSON.parse(l) as { epoch?: number; result?: TrainResult };
        if (msg.result) result = msg.result;
        if (o.killAfterEpoch !== undefined && msg.epoch === o.killAfterEpoch) p.kill('SIGKILL');
      }
    });
    p.on('error', reject);
    p.on('exit', (_code, signal) => resolve({ result, killed: signal === 'SIGKILL' }));
  });
}
