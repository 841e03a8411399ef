// A training's energy kept in its run folder, epoch by epoch, next to its checkpoints: the
// store that recorded an earlier attempt may be out of reach (a cluster task's own database
// stays on the node that ran it), so a training resumed on another node after a kill or a
// requeue finds what the earlier attempts spent in the folder it resumes from.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EnergyFigureSchema } from '../../common/energy.ts';
import { v } from '../../common/schema.ts';
import type { EnergyRecord } from '../energy/formula.ts';

/** One earlier training run in the same folder, with its epochs' cumulative energies. */
export interface PriorRun {
  id: number;
  epochs: { epoch: number; energy: EnergyRecord | null }[];
}

export const LEDGER_FILE = 'energy-ledger.json';

/** The ledger file: each attempt (in the order they ran) with its epochs' cumulative energies. */
const LEDGER = v.object({
  attempts: v.array(
    v.object({
      attempt: v.string(),
      host: v.string(),
      epochs: v.array(v.object({ epoch: v.number(), energy: EnergyFigureSchema })),
    }),
  ),
});

type Ledger = v.InferOutput<typeof LEDGER>;

function read(runDir: string): Ledger {
  try {
    const r = v.safeParse(LEDGER, JSON.parse(fs.readFileSync(path.join(runDir, LEDGER_FILE), 'utf8')));
    return r.success ? r.output : { attempts: [] };
  } catch {
    return { attempts: [] }; // none yet (or unreadable: the store's record is used alone)
  }
}

/** Adds an epoch of attempt `attempt` (written to a temporary file, then renamed over it). */
export function recordLedgerEpoch(
  runDir: string,
  attempt: { id: string; host: string },
  epoch: number,
  energy: EnergyRecord,
): void {
  const l = read(runDir);
  let a = l.attempts.find((x) => x.attempt === attempt.id);
  if (!a) {
    a = { attempt: attempt.id, host: attempt.host, epochs: [] };
    l.attempts.push(a);
  }
  a.epochs = [...a.epochs.filter((e) => e.epoch !== epoch), { epoch, energy }];
  const file = path.join(runDir, LEDGER_FILE);
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(l));
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true }); // the store keeps the epoch; the folder's copy is a spare
  }
}

/** The earlier attempts in the folder as prior runs (numbered in the order they ran), `self` left out. */
export function ledgerPriors(runDir: string, self: string): PriorRun[] {
  return read(runDir)
    .attempts.filter((a) => a.attempt !== self)
    .map((a, i) => ({ id: i + 1, epochs: a.epochs }));
}
