// A training run in its own process, so tests can kill it mid-run. Prints one JSON line per
// finished epoch and the result at the end.
import type { BackendName } from '../../src/core/common/api.ts';
import { train } from '../../src/core/node/train/trainer.ts';
import { colourDataset } from './fixtures.ts';

const [runDir, epochs, workers] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4] ?? 0)];
// The training engine (default: the automatic choice).
const backend = (process.argv[5] || null) as BackendName | null;
// The epoch after which the child stops and waits to be killed, so the kill lands after that
// epoch's checkpoint and before the next, however slowly the parent hears of it.
const holdAfter = process.argv[6] ? Number(process.argv[6]) : null;
const r = await train({
  runDir,
  data: colourDataset({ train: 96 }),
  workers,
  backend,
  config: { depth: 8, epochs, batchSize: 16, seed: 4 },
  onEvent: (e) => {
    if (e.type !== 'epoch') return;
    console.log(JSON.stringify({ epoch: e.epoch })); // synchronous on a pipe
    if (e.epoch === holdAfter) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000);
  },
});
console.log(JSON.stringify({ result: r }));
