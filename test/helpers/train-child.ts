// A training run in its own process, so tests can kill it mid-run. Prints one JSON line per
// finished epoch and the result at the end.
import type { BackendName } from '../../src/core/common/api.ts';
import { train } from '../../src/core/node/train/trainer.ts';
import { colourDataset } from './fixtures.ts';

const [runDir, epochs, workers] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4] ?? 0)];
// The training engine (default: the automatic choice).
const backend = (process.argv[5] ?? null) as BackendName | null;
const r = await train({
  runDir,
  data: colourDataset({ train: 96 }),
  workers,
  backend,
  config: { depth: 8, epochs, batchSize: 16, seed: 4 },
  onEvent: (e) => {
    if (e.type === 'epoch') console.log(JSON.stringify({ epoch: e.epoch }));
  },
});
console.log(JSON.stringify({ result: r }));
