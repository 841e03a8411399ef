// The machine a run ran on, so runs from different machines can be compared side by side.
// systeminformation reads what it reads well (CPU model, cores, memory, OS, GPU list).
import os from 'node:os';
import si from 'systeminformation';

export interface MachineInfo {
  hostname: string;
  os: string;
  arch: string;
  cpu_model: string;
  cpu_cores: number;
  cpu_threads: number;
  memory_bytes: number;
  gpus: string[];
  virtual: boolean;
}

let cached: Promise<MachineInfo> | null = null;

/** Describes this machine (cached per process; never throws). */
export function describeMachine(): Promise<MachineInfo> {
  cached ??= (async () => {
    const fallback: MachineInfo = {
      hostname: os.hostname(),
      os: `${os.type()} ${os.release()}`,
      arch: os.arch(),
      cpu_model: os.cpus()[0]?.model?.trim() || 'unknown CPU',
      cpu_cores: os.cpus().length,
      cpu_threads: os.cpus().length,
      memory_bytes: os.totalmem(),
      gpus: [],
      virtual: false,
    };
    try {
      const [cpu, mem, osInfo, graphics, system] = await Promise.all([
        si.cpu(),
        si.mem(),
        si.osInfo(),
        si.graphics().catch(() => ({ controllers: [] })),
        si.system().catch(() => ({ virtual: false })),
      ]);
      return {
        ...fallback,
        os: `${osInfo.distro || osInfo.platform} ${osInfo.release} (${osInfo.platform} ${osInfo.kernel})`.trim(),
        cpu_model: `${cpu.manufacturer} ${cpu.brand}`.trim() || fallback.cpu_model,
        cpu_cores: cpu.physicalCores || cpu.cores || fallback.cpu_cores,
        cpu_threads: cpu.cores || fallback.cpu_threads,
        memory_bytes: mem.total || fallback.memory_bytes,
        gpus: graphics.controllers.map((c) => `${c.vendor} ${c.model}`.trim()).filter(Boolean),
        virtual: Boolean((system as { virtual?: boolean }).virtual),
      };
    } catch {
      return fallback;
    }
  })();
  return cached;
}
