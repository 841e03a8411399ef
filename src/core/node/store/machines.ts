// Machines: one row per distinct machine a run was recorded on (found by a fingerprint of
// what describes it), so a thousand runs on one laptop share one row.
import type { MachineInfo } from '../energy/machine.ts';
import { v } from '../../common/schema.ts';
import { iso, jsonText, JsonNames, readJson, readRow, type StoreAccess } from './rows.ts';

export type MachineRow = MachineInfo & { id: number };

/** The machine's columns as a run's listing selects them (joined as `m`, named m_*). */
export const MACHINE_SELECT = `m.id AS m_id, m.hostname AS m_hostname, m.os AS m_os, m.arch AS m_arch,
      m.cpu_model AS m_cpu_model, m.cpu_cores AS m_cpu_cores, m.cpu_threads AS m_cpu_threads,
      m.memory_bytes AS m_memory_bytes, m.gpus_json AS m_gpus_json, m.virtual AS m_virtual`;

/** What MACHINE_SELECT adds to a row (checked as a machine when m_id is there). */
export const MachineColumns = {
  m_id: v.nullable(v.number()),
  m_hostname: v.unknown(),
  m_os: v.unknown(),
  m_arch: v.unknown(),
  m_cpu_model: v.unknown(),
  m_cpu_cores: v.unknown(),
  m_cpu_threads: v.unknown(),
  m_memory_bytes: v.unknown(),
  m_gpus_json: jsonText,
  m_virtual: v.unknown(),
};

const MachineSchema = v.object({
  id: v.number(),
  hostname: v.string(),
  os: v.string(),
  arch: v.string(),
  cpu_model: v.string(),
  cpu_cores: v.number(),
  cpu_threads: v.number(),
  memory_bytes: v.number(),
  virtual: v.number(),
});

type Columns = { [K in keyof typeof MachineColumns]: v.InferOutput<(typeof MachineColumns)[K]> };

/** The machine of a run's row (null when none was recorded, or its row is unreadable). */
export function machineOf(s: StoreAccess, r: Columns, where: string): MachineRow | null {
  if (r.m_id === null) return null;
  const m = readRow(
    s,
    MachineSchema,
    {
      id: r.m_id,
      hostname: r.m_hostname,
      os: r.m_os,
      arch: r.m_arch,
      cpu_model: r.m_cpu_model,
      cpu_cores: r.m_cpu_cores,
      cpu_threads: r.m_cpu_threads,
      memory_bytes: r.m_memory_bytes,
      virtual: r.m_virtual,
    },
    () => `${where}: its machine (${r.m_id})`,
  );
  if (!m) return null;
  const gpus = readJson(s, JsonNames, r.m_gpus_json, [], `machine ${m.id}`, 'GPU list');
  return { ...m, gpus, virtual: Boolean(m.virtual) };
}

export class MachinesRepository {
  private readonly s: StoreAccess;

  constructor(s: StoreAccess) {
    this.s = s;
  }

  /** The machine's row id, added the first time it is seen. */
  idOf(m: MachineInfo): number {
    return this.s.write(() => {
      const fp = JSON.stringify([
        m.hostname,
        m.os,
        m.arch,
        m.cpu_model,
        m.cpu_threads,
        m.memory_bytes,
        m.gpus,
      ]);
      const row = v.parse(
        v.optional(v.object({ id: v.number() })),
        this.s.db.prepare('SELECT id FROM machines WHERE fingerprint = ?').get(fp),
      );
      if (row) return row.id;
      return Number(
        this.s.db
          .prepare(
            `INSERT INTO machines (fingerprint, hostname, os, arch, cpu_model, cpu_cores, cpu_threads, memory_bytes, gpus_json, virtual, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            fp,
            m.hostname,
            m.os,
            m.arch,
            m.cpu_model,
            m.cpu_cores,
            m.cpu_threads,
            m.memory_bytes,
            JSON.stringify(m.gpus),
            m.virtual ? 1 : 0,
            iso(),
          ).lastInsertRowid,
      );
    });
  }
}
