// decomposer energy: which power sources this machine offers, and why the others are not
// usable; `energy check` compares RAPL against perf's energy counters where both exist.
import type { Command } from '../command.ts';
import { DB_ARGS, DB_OPTIONS, DB_USAGE, dbFileOf } from '../options.ts';
import { CHECK_SECONDS } from '../../core/common/bounds.ts';
import { v } from '../../core/common/schema.ts';
import { STORED_SETTINGS } from '../../core/common/settings.ts';
import { ATTRIBUTION_TEXT } from '../../core/common/energy.ts';
import { spawn } from 'node:child_process';
import { EXIT, fmtAmount, print, printJson } from '../output.ts';
import { describeMachine } from '../../core/node/energy/machine.ts';
import { averagePowers, detectSources, PowerMeter } from '../../core/node/energy/meter.ts';
import { Store } from '../../core/node/store/store.ts';
import { effectiveSettings, type Settings } from '../../core/node/store/settings.ts';

const ENERGY_ARGS = v.object({
  ...DB_ARGS,
  seconds: v.optional(CHECK_SECONDS.text, 5),
  // Overrides of the settings, each checked with its setting's schema.
  'powercap-root': v.optional(STORED_SETTINGS.powercapRoot),
  'nvidia-smi': v.optional(STORED_SETTINGS.nvidiaSmi),
});

type EnergyArgs = v.InferOutput<typeof ENERGY_ARGS>;

/** The settings in force, reading the database's stored settings when it can be opened. */
export function settingsFor(o: EnergyArgs): Settings {
  let store: Store | null;
  try {
    store = Store.open(dbFileOf(o));
  } catch {
    store = null;
  }
  try {
    return effectiveSettings(store?.settings ?? null, {
      powercapRoot: o['powercap-root'],
      nvidiaSmi: o['nvidia-smi'],
    });
  } finally {
    store?.close();
  }
}

/** `perf stat -a -e power/energy-pkg/,power/energy-ram/` for `seconds`, in joules (null: not possible). */
export async function perfEnergy(
  seconds: number,
): Promise<{ pkgJ: number | null; ramJ: number | null; problem: string | null }> {
  // Async, so our sampler keeps running on this thread's timer while perf measures.
  const r = await new Promise<{ error?: Error; status: number | null; stderr: string }>((resolve) => {
    let stderr = '';
    const c = spawn(
      'perf',
      ['stat', '-a', '-x', ',', '-e', 'power/energy-pkg/,power/energy-ram/', 'sleep', String(seconds)],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: (seconds + 10) * 1000 },
    );
    c.stderr.setEncoding('utf8');
    c.stderr.on('data', (d: string) => (stderr += d));
    c.on('error', (error) => resolve({ error, status: null, stderr }));
    c.on('close', (status) => resolve({ status, stderr }));
  });
  if (r.error)
    return {
      pkgJ: null,
      ramJ: null,
      problem: `perf is not installed (${(r.error as NodeJS.ErrnoException).code}).`,
    };
  const val = (ev: string) => {
    const line = r.stderr.split('\n').find((l) => l.includes(ev));
    const n = line ? Number(line.split(',')[0]) : NaN;
    return Number.isFinite(n) ? n : null;
  };
  const pkgJ = val('energy-pkg');
  if (r.status !== 0 || pkgJ === null)
    return {
      pkgJ: null,
      ramJ: null,
      problem: `perf cannot read power/energy-pkg/ here (${(
        r.stderr
          .trim()
          .split('\n')
          .find((l) => l.trim()) ?? `exit ${r.status}`
      ).trim()}): no RAPL PMU (a VM, or not Intel/AMD), or perf_event_paranoid forbids it (run as root or: sudo sysctl kernel.perf_event_paranoid=0).`,
    };
  return { pkgJ, ramJ: val('energy-ram'), problem: null };
}

export const energyCommand: Command<EnergyArgs> = {
  name: 'energy',
  summary: 'show the power sources found here and why others are not usable (energy check: accuracy)',
  usage: `Usage: decomposer energy [check] [options]

Shows which power readers this machine offers (RAPL through powercap, nvidia-smi, macOS
powermetrics, or the estimate), what each run's figures will be labelled, and why the others
cannot be used, with the command that grants access where one exists.

  check               measure for --seconds with our reader and with
                      perf stat -a -e power/energy-pkg/,power/energy-ram/ and compare
  --seconds N         length of the check, ${CHECK_SECONDS.range} (default 5)
  --powercap-root DIR powercap folder (default /sys/class/powercap, or DECOMPOSER_POWERCAP_ROOT)
  --nvidia-smi CMD    nvidia-smi command (default nvidia-smi, or DECOMPOSER_NVIDIA_SMI)
${DB_USAGE}
  --json              print one JSON object
  -h, --help          this help`,
  options: {
    seconds: { type: 'string' },
    'powercap-root': { type: 'string' },
    'nvidia-smi': { type: 'string' },
    ...DB_OPTIONS,
  },
  args: ENERGY_ARGS,
  async run(o, positionals) {
    const { json } = o;
    const s = settingsFor(o);
    const sources = await detectSources({ powercapRoot: s.powercapRoot, nvidiaSmi: s.nvidiaSmi });
    const machine = await describeMachine();
    const r = sources.report;
    if (positionals[0] === 'check') {
      const { seconds } = o;
      const meter = new PowerMeter(sources, s.sampleIntervalMs);
      await meter.start();
      const t0 = Date.now();
      const perf = await perfEnergy(seconds);
      // perf fails at once where it cannot read RAPL: still measure ours for the full time
      await new Promise((res) => setTimeout(res, Math.max(0, seconds * 1000 - (Date.now() - t0))));
      const ours = averagePowers(await meter.stop(), r.gpus);
      const out = {
        source: r.source,
        seconds: ours.seconds,
        ours: { cpu_j: ours.cpuW * ours.seconds, dram_j: ours.dramW * ours.seconds },
        perf: { pkg_j: perf.pkgJ, ram_j: perf.ramJ },
        comparable: r.cpu === 'rapl' && perf.pkgJ !== null,
        problem:
          r.cpu !== 'rapl'
            ? `No accuracy check possible: our CPU figures come from ${r.source}, not RAPL${perf.problem ? `, and ${perf.problem}` : ''}`
            : perf.problem,
      };
      if (json) printJson(out);
      else {
        const j = (x: number) => `${fmtAmount(x)} J`;
        print(
          `ours (${r.source}) over ${ours.seconds.toFixed(1)} s: CPU ${j(out.ours.cpu_j)}, DRAM ${j(out.ours.dram_j)}`,
        );
        if (perf.pkgJ !== null)
          print(`perf stat: package ${j(perf.pkgJ)}, DRAM ${perf.ramJ === null ? 'n/a' : j(perf.ramJ)}`);
        if (out.comparable)
          print(
            `difference: package ${(((out.ours.cpu_j - perf.pkgJ!) / perf.pkgJ!) * 100).toFixed(1)}% (both read the same RAPL counters; expect < 2%)`,
          );
        if (out.problem) print(out.problem);
      }
      return EXIT.ok;
    }
    const out = {
      source: r.source,
      estimate: r.cpu === 'estimate',
      cpu: r.cpu,
      gpu: r.gpu,
      gpus: r.gpus,
      rapl: {
        root: r.rapl.root,
        zones: r.rapl.zones,
        skipped: r.rapl.skipped,
        problems: r.rapl.problems,
        root_only: r.rapl.rootOnly,
      },
      nvidia: r.nvidia,
      estimate_note: r.estimateNote,
      settings: s,
      machine,
      lines: r.lines,
    };
    if (json) printJson(out);
    else {
      print(
        [
          `machine: ${machine.cpu_model}, ${machine.cpu_cores} cores / ${machine.cpu_threads} threads, ${(machine.memory_bytes / 2 ** 30).toFixed(1)} GiB, ${machine.gpus.length ? machine.gpus.join(', ') : 'no GPU'}, ${machine.os}${machine.virtual ? ' (virtual machine)' : ''}`,
          `figures will be labelled: ${r.source}${r.cpu === 'estimate' ? ' (ESTIMATE)' : ''}`,
          ...r.lines,
          `formula: kWh = PUE ${s.pue} x hours x (CPU W + DRAM W + g x GPU W) / 1000, CO2e = ${s.intensity} lbs/kWh x kWh (Strubell et al.)`,
          `attribution: ${s.attribution} (a setting; --attribution on every measured command): ${ATTRIBUTION_TEXT[s.attribution]}`,
          `sampling every ${s.sampleIntervalMs} ms; ${
            s.attribution === 'process' && r.cpu === 'estimate' && r.gpus === 0
              ? 'no idle power measured (the estimate prices each run by its own CPU seconds)'
              : `idle power measured for ${s.idleSeconds} s before each run`
          }`,
        ].join('\n'),
      );
    }
    return EXIT.ok;
  },
};
