// Runs whose process died. At start-up, a run still 'running' whose owner is gone (no such
// pid, or the pid now belongs to another process, or on another host a heartbeat older than
// STALE_MS) is marked 'interrupted'; what it finished (epochs, power summary, trace file)
// stays, and the energy it had recorded counts like any other run's.
import os from 'node:os';
import { v } from '../../common/schema.ts';
import { energyRecord, type EnergyRecord } from '../energy/formula.ts';
import { processAlive } from '../fs/lock.ts';
import type { EpochsRepository } from './epochs.ts';
import type { PowerRepository } from './power.ts';
import { readRows, rowName, toJson, type StoreAccess } from './rows.ts';
import type { SettingsRepository } from './settings.ts';

/** A heartbeat older than this, from a process we cannot check, means the owner is gone. */
export const STALE_MS = 60_000;
export const HEARTBEAT_MS = 5_000;

const OwnerColumns = v.object({
  id: v.number(),
  pid: v.number(),
  pid_start: v.nullable(v.string()),
  host: v.string(),
  heartbeat_at: v.string(),
});

function ownerAlive(r: v.InferOutput<typeof OwnerColumns>): boolean {
  const fresh = Date.now() - Date.parse(r.heartbeat_at) < STALE_MS;
  if (r.host !== os.hostname()) return fresh;
  const alive = processAlive(r.pid, r.pid_start);
  return alive === 'unknown' ? fresh : alive;
}

/**
 * The energy a run had recorded when its process died: the figure of its last heartbeat (by
 * its attribution), else one made from its last power summary as `machine` attribution does
 * (runs recorded before heartbeats kept their figure), with the PUE and intensity its epochs
 * used (else the settings), or its last epoch's.
 */
function energySoFar(
  id: number,
  r: { epochs: EpochsRepository; power: PowerRepository; settings: SettingsRepository },
): EnergyRecord | null {
  const epochEnergy = r.epochs.lastEnergy(id);
  const p = r.power.get(id);
  if (!p || !(p.seconds > 0)) return epochEnergy;
  // The figure its recorder made at the last heartbeat, by the run's own attribution.
  if (p.energy && p.energy.seconds >= (epochEnergy?.seconds ?? 0)) return p.energy;
  const s = p.seconds;
  const settings = epochEnergy ? null : r.settings.read();
  return energyRecord(
    {
      seconds: s,
      cpuW: p.cpuJ / s,
      dramW: p.dramJ / s,
      gpuW: p.gpus > 0 ? p.gpuJ / s / p.gpus : 0,
      gpus: p.gpus,
    },
    { cpuW: p.idleCpuW, dramW: p.idleDramW, gpuW: p.idleGpuW },
    {
      source: p.source,
      pue: epochEnergy?.pue ?? settings!.pue,
      intensity: epochEnergy?.intensity_lbs_per_kwh ?? settings!.intensity,
    },
  );
}

/** Marks runs whose owning process is gone as interrupted; returns their ids. */
export function sweepInterrupted(
  s: StoreAccess,
  r: { epochs: EpochsRepository; power: PowerRepository; settings: SettingsRepository },
): number[] {
  const running = readRows(
    s,
    OwnerColumns,
    s.db.prepare(`SELECT id, pid, pid_start, host, heartbeat_at FROM runs WHERE status = 'running'`).all(),
    rowName('run'),
  );
  const gone = running.filter((x) => !ownerAlive(x)).map((x) => x.id);
  if (gone.length) {
    const upd = s.db.prepare(
      `UPDATE runs SET status = 'interrupted', ended_at = heartbeat_at,
           seconds = (julianday(heartbeat_at) - julianday(started_at)) * 86400.0,
           energy_json = COALESCE(energy_json, ?)
         WHERE id = ? AND status = 'running'`,
    );
    s.write(() => gone.forEach((id) => upd.run(toJson(energySoFar(id, r) ?? undefined), id)));
  }
  return gone;
}
