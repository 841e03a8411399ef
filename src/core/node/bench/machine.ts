// The bench's first line: the machine and its load before anything of ours runs, the
// background every figure after it is measured against.
import os from 'node:os';
import { round2, type Emit } from './figure.ts';

export function machineFigure(emit: Emit): void {
  emit({
    figure: 'machine',
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    load_average: os.loadavg().map(round2),
  });
}
