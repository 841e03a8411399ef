// A training run in its own process, so tests can kill it mid-run. Prints one JSON line per
// finished epoch and the result at the end.
import { train } from '../../src/core/node/train/trainer.ts';
import { colourDataset } from './fixtures.ts';

const [runDir, epochs, workers] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4] ?? 0)];
const r = await train({
  runDir,
  data: colourDataset({ train: 96 }),
  workers,
  config: { depth: 8, epochs, batchSize: 16, seed: 4 },
  onEvent: (e) => {
    if (e.type === 'epoch') console.log(JSON.stringify({ epoch: e.epoch }));
  },
});
console.log(JSON.stringify({ result: r }));
