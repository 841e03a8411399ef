// Power: one summary row per run (what the meter has integrated so far, updated at every
// heartbeat and epoch), and the run's power trace in a file next to the database, written
// atomically, which the row points at.
import fs from 'node:fs';
import path from 'node:path';
import { EnergyFigureSchema, type EnergyFigure } from '../../common/energy.ts';
import { v } from '../../common/schema.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { iso, jsonText, JsonNames, readJson, readRow, type StoreAccess } from './rows.ts';

export interface PowerSummary {
  source: string;
  sources: string[];
  intervalMs: number;
  samples: number;
  missed: number;
  seconds: number;
  cpuJ: number;
  dramJ: number;
  gpuJ: number;
  gpus: number;
  idleSeconds: number;
  idleCpuW: number;
  idleDramW: number;
  idleGpuW: number;
  /** The run's energy so far, by its attribution (what an interrupted run keeps). */
  energy?: EnergyFigure | null;
}

export type PowerRow = PowerSummary & {
  traceFile: string | null;
  traceFormat: string | null;
  updatedAt: string;
};

const PowerColumns = v.object({
  source: v.string(),
  sources_json: jsonText,
  interval_ms: v.number(),
  samples: v.number(),
  missed: v.number(),
  seconds: v.number(),
  cpu_j: v.number(),
  dram_j: v.number(),
  gpu_j: v.number(),
  gpus: v.number(),
  idle_seconds: v.number(),
  idle_cpu_w: v.number(),
  idle_dram_w: v.number(),
  idle_gpu_w: v.number(),
  trace_file: v.nullable(v.string()),
  trace_format: v.nullable(v.string()),
  updated_at: v.string(),
  energy_json: v.optional(v.nullable(v.string()), null),
});

const TraceColumns = v.optional(
  v.object({ trace_file: v.nullable(v.string()), trace_format: v.nullable(v.string()) }),
);

export class PowerRepository {
  private readonly s: StoreAccess;

  constructor(s: StoreAccess) {
    this.s = s;
  }

  /** Folder of the power trace files. */
  get traceDir(): string {
    return path.join(path.dirname(this.s.file), 'traces');
  }

  /** The run is alive (its heartbeat), with its power so far when given: one transaction. */
  beat(id: number, p?: PowerSummary, trace?: { file: string; format: string }): void {
    this.s.write(() => {
      this.s.db
        .prepare(`UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'`)
        .run(iso(), id);
      if (p) this.put(id, p, trace);
    });
  }

  /** Stores the run's power summary (a trace file, once written, stays pointed at). */
  put(id: number, p: PowerSummary, trace?: { file: string; format: string }): void {
    this.s.write(() =>
      this.s.db
        .prepare(
          `INSERT INTO power (run_id, source, sources_json, interval_ms, samples, missed, seconds, cpu_j, dram_j, gpu_j, gpus,
           idle_seconds, idle_cpu_w, idle_dram_w, idle_gpu_w, trace_file, trace_format, updated_at, energy_json)
         VALUES (@id, @source, @sources, @intervalMs, @samples, @missed, @seconds, @cpuJ, @dramJ, @gpuJ, @gpus,
           @idleSeconds, @idleCpuW, @idleDramW, @idleGpuW, @traceFile, @traceFormat, @now, @energy)
         ON CONFLICT (run_id) DO UPDATE SET source = excluded.source, sources_json = excluded.sources_json,
           interval_ms = excluded.interval_ms, samples = excluded.samples, missed = excluded.missed,
           seconds = excluded.seconds, cpu_j = excluded.cpu_j, dram_j = excluded.dram_j, gpu_j = excluded.gpu_j,
           gpus = excluded.gpus, idle_seconds = excluded.idle_seconds, idle_cpu_w = excluded.idle_cpu_w,
           idle_dram_w = excluded.idle_dram_w, idle_gpu_w = excluded.idle_gpu_w,
           trace_file = COALESCE(excluded.trace_file, power.trace_file),
           trace_format = COALESCE(excluded.trace_format, power.trace_format), updated_at = excluded.updated_at,
           energy_json = excluded.energy_json`,
        )
        .run({
          ...p,
          id,
          sources: JSON.stringify(p.sources),
          traceFile: trace?.file ?? null,
          traceFormat: trace?.format ?? null,
          now: iso(),
          energy: p.energy ? JSON.stringify(p.energy) : null,
        }),
    );
  }

  /** The run's power summary, or null when none was recorded (or its row is unreadable). */
  get(id: number): PowerRow | null {
    return this.s.read(() => {
      const raw = this.s.db.prepare('SELECT * FROM power WHERE run_id = ?').get(id);
      const p =
        raw === undefined ? null : readRow(this.s, PowerColumns, raw, () => `run ${id}: its power summary`);
      if (!p) return null;
      return {
        source: p.source,
        sources: readJson(this.s, JsonNames, p.sources_json, [], `run ${id}`, 'power sources'),
        intervalMs: p.interval_ms,
        samples: p.samples,
        missed: p.missed,
        seconds: p.seconds,
        cpuJ: p.cpu_j,
        dramJ: p.dram_j,
        gpuJ: p.gpu_j,
        gpus: p.gpus,
        idleSeconds: p.idle_seconds,
        idleCpuW: p.idle_cpu_w,
        idleDramW: p.idle_dram_w,
        idleGpuW: p.idle_gpu_w,
        traceFile: p.trace_file,
        traceFormat: p.trace_format,
        updatedAt: p.updated_at,
        energy:
          p.energy_json === null
            ? null
            : readJson(this.s, EnergyFigureSchema, p.energy_json, null, `run ${id}`, 'energy so far'),
      };
    });
  }

  /** Writes the power trace (atomically) and points the power row at it. */
  async writeTrace(
    id: number,
    rows: ArrayLike<number>,
    format: string,
    power: PowerSummary,
  ): Promise<string> {
    const file = path.join(this.traceDir, `run-${id}.f32`);
    await writeFileAtomic(file, new Uint8Array(Float32Array.from(rows).buffer));
    this.beat(id, power, { file: path.relative(path.dirname(this.s.file), file), format });
    return file;
  }

  /** Reads a run's trace file back as rows of its columns. */
  readTrace(id: number): { columns: string[]; rows: number[][] } | null {
    const p = this.s.read(() =>
      readRow(
        this.s,
        TraceColumns,
        this.s.db.prepare('SELECT trace_file, trace_format FROM power WHERE run_id = ?').get(id),
        () => `run ${id}: its power trace`,
      ),
    );
    if (!p?.trace_file || !p.trace_format) return null;
    let buf: Buffer;
    try {
      buf = fs.readFileSync(path.resolve(path.dirname(this.s.file), p.trace_file));
    } catch {
      return null;
    }
    const columns = p.trace_format.replace(/^f32le:/, '').split(',');
    const f = new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.byteLength / 4));
    const rows: number[][] = [];
    for (let i = 0; i + columns.length <= f.length; i += columns.length)
      rows.push(Array.from(f.subarray(i, i + columns.length)));
    return { columns, rows };
  }
}
