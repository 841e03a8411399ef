// decomposer export: the recorded runs as JSON (everything, with epochs and power) or CSV
// (one row per run, or per epoch with --epochs), to a file (written atomically) or stdout.
import type { Command } from '../command.ts';
import { DB_ARGS, DB_OPTIONS, DB_USAGE, dbFileOf } from '../options.ts';
import { PATH, v } from '../../core/common/schema.ts';
import path from 'node:path';
import { EXIT, print, toCsv } from '../output.ts';
import type { EnergyRecord } from '../../core/node/energy/formula.ts';
import { writeFileAtomic } from '../../core/node/fs/atomic.ts';
import type { RunDetail } from '../../core/node/store/run-rows.ts';
import { Store } from '../../core/node/store/store.ts';

const ENERGY_KEYS: (keyof EnergyRecord)[] = [
  'source',
  'seconds',
  'cpu_w',
  'dram_w',
  'gpu_w',
  'gpus',
  'idle_w',
  'pue',
  'kwh',
  'intensity_lbs_per_kwh',
  'co2e_lbs',
  'co2e_kg',
  'attribution',
  'run_cpu_s',
  'busy_cpu_s',
  'capacity_cpu_s',
];

const energyCells = (e: EnergyRecord | null) => ENERGY_KEYS.map((k) => e?.[k] ?? null);

export function runsCsv(runs: RunDetail[]): string {
  const header = [
    'id',
    'kind',
    'label',
    'status',
    'started_at',
    'ended_at',
    'seconds',
    'backend',
    'epochs',
    'best_epoch',
    'cpu_model',
    'cpu_cores',
    'cpu_threads',
    'memory_bytes',
    'gpus_installed',
    'os',
    'hostname',
    ...ENERGY_KEYS,
    'fixed_epochs_kwh',
    'fixed_epochs_co2e_lbs',
    'until_best_kwh',
    'until_best_co2e_lbs',
    'params',
  ];
  const rows = runs.map((r) => [
    r.id,
    r.kind,
    r.label,
    r.status,
    r.started_at,
    r.ended_at,
    r.seconds,
    r.backend,
    r.epochs.length,
    r.best_epoch,
    r.machine?.cpu_model,
    r.machine?.cpu_cores,
    r.machine?.cpu_threads,
    r.machine?.memory_bytes,
    r.machine?.gpus.join('; '),
    r.machine?.os,
    r.machine?.hostname,
    ...energyCells(r.energy),
    r.energy_fixed_epochs?.kwh,
    r.energy_fixed_epochs?.co2e_lbs,
    r.energy_until_best?.kwh,
    r.energy_until_best?.co2e_lbs,
    r.params,
  ]);
  return toCsv(header, rows);
}

export function epochsCsv(runs: RunDetail[]): string {
  const header = [
    'run_id',
    'kind',
    'epoch',
    'best',
    'loss',
    'accuracy',
    'val_accuracy',
    'seconds',
    'ended_at',
    ...ENERGY_KEYS.map((k) => `cumulative_${k}`),
  ];
  const rows = runs.flatMap((r) =>
    r.epochs.map((e) => [
      r.id,
      r.kind,
      e.epoch,
      e.best ? 1 : 0,
      e.loss,
      e.accuracy,
      e.val_accuracy,
      e.seconds,
      e.ended_at,
      ...energyCells(e.energy),
    ]),
  );
  return toCsv(header, rows);
}

export function allRuns(store: Store, kind?: string): RunDetail[] {
  return store.runs
    .list({ kind })
    .reverse()
    .map((r) => store.runs.get(r.id)!)
    .filter(Boolean);
}

const EXPORT_ARGS = v.object({
  ...DB_ARGS,
  format: v.optional(v.pipe(v.string(), v.toLowerCase(), v.picklist(['csv', 'json'], 'must be csv or json'))),
  epochs: v.optional(v.boolean(), false),
  kind: v.optional(v.string()),
  out: v.optional(PATH),
});

export const exportCommand: Command<v.InferOutput<typeof EXPORT_ARGS>> = {
  name: 'export',
  summary: 'export recorded runs and their energy as CSV or JSON',
  usage: `Usage: decomposer export [options]

Writes every recorded run with its energy object, machine, parameters, epochs and power
summary.

  --format F          json (default, or from --out's extension) | csv
  --epochs            CSV: one row per epoch with the cumulative energy at its end
  --kind K            only runs of this kind
  -o, --out FILE      write to FILE (atomically) instead of stdout
${DB_USAGE}
  -h, --help          this help`,
  options: {
    format: { type: 'string' },
    epochs: { type: 'boolean', default: false },
    kind: { type: 'string' },
    out: { type: 'string', short: 'o' },
    ...DB_OPTIONS,
  },
  args: EXPORT_ARGS,
  async run(o) {
    const { out } = o;
    const format = o.format ?? (out && path.extname(out) === '.csv' ? 'csv' : 'json');
    const store = Store.open(dbFileOf(o));
    let text: string;
    let count: number;
    try {
      const runs = allRuns(store, o.kind);
      count = runs.length;
      text =
        format === 'json'
          ? `${JSON.stringify({ db: store.file, exported_at: new Date().toISOString(), runs }, null, 2)}\n`
          : o.epochs
            ? epochsCsv(runs)
            : runsCsv(runs);
    } finally {
      store.close();
    }
    if (out) {
      await writeFileAtomic(path.resolve(out), text);
      print(`wrote ${count} run${count === 1 ? '' : 's'} to ${path.resolve(out)} (${format})`);
    } else process.stdout.write(text);
    return EXIT.ok;
  },
};
