// decomposer runs: list the recorded runs (every kind, side by side, with their energy), or
// show one with its epochs and power summary.
import type { Command } from '../command.ts';
import { DB_ARGS, DB_OPTIONS, DB_USAGE, dbFileOf } from '../options.ts';
import { ROW_ID, ROW_LIMIT, parseBounded } from '../../core/common/bounds.ts';
import { v } from '../../core/common/schema.ts';
import { Store } from '../../core/node/store/store.ts';
import { didYouMean } from '../../core/common/suggest.ts';
import { EXIT, fmtAmount, fmtPct, formatTable, print, printJson } from '../output.ts';
import { UserError } from '../../core/common/errors.ts';
import { isEstimatedSource } from '../../core/common/api.ts';
import type { EnergyRecord } from '../../core/node/energy/formula.ts';
import { describeEnergy, energyAmounts } from '../../core/node/energy/formula.ts';
import type { RunRow } from '../../core/node/store/run-rows.ts';

const fmtE = (e: EnergyRecord | null) =>
  e ? `${energyAmounts(e)}${isEstimatedSource(e.source) ? ' (estimate)' : ''}` : '-';

const HEADER = [
  'id',
  'kind',
  'status',
  'started',
  'time',
  'epochs',
  'backend',
  'kWh',
  'CO2e lbs',
  'source',
  'attribution',
  'machine',
];

/** Runs as a table with a header row, one line each. */
function runsTable(runs: RunRow[]): string {
  return formatTable(
    HEADER,
    runs.map((r) => [
      String(r.id),
      r.kind,
      r.status,
      r.started_at.slice(0, 19).replace('T', ' '),
      `${(r.seconds ?? 0).toFixed(1)}s`,
      r.epochs_done ? `${r.epochs_done}${r.best_epoch ? ` (best ${r.best_epoch})` : ''}` : '-',
      r.backend ?? '-',
      r.energy ? fmtAmount(r.energy.kwh) : '-',
      r.energy ? fmtAmount(r.energy.co2e_lbs) : '-',
      r.energy?.source ?? '-',
      r.energy?.attribution ?? '-',
      r.machine ? `${r.machine.cpu_model} x${r.machine.cpu_threads}` : '',
    ]),
    [0, 4, 7, 8],
  );
}

const RUNS_ARGS = v.object({
  ...DB_ARGS,
  kind: v.optional(v.string()),
  status: v.optional(v.string()),
  limit: v.optional(ROW_LIMIT.text, 50),
});

export const runsCommand: Command<v.InferOutput<typeof RUNS_ARGS>> = {
  name: 'runs',
  summary: 'list recorded runs with their energy (runs show ID for one)',
  usage: `Usage: decomposer runs [show ID] [options]

Lists every recorded run (training, decomposition, evaluation, reuse, replace) with its
status, time, backend, machine and energy. A run whose process died is shown as
"interrupted", with the epochs it finished.

  show ID             one run with its parameters, epochs (cumulative energy at each
                      epoch end), power summary and machine
  --kind K            only runs of this kind
  --status S          only runs with this status
  --limit N           at most N runs (default 50)
${DB_USAGE}
  --json              print one JSON object
  -h, --help          this help`,
  options: {
    kind: { type: 'string' },
    status: { type: 'string' },
    limit: { type: 'string' },
    ...DB_OPTIONS,
  },
  args: RUNS_ARGS,
  async run(o, positionals) {
    const { json, limit } = o;
    // Checked before the store is opened (which would make the data folder).
    if (positionals.length && positionals[0] !== 'show')
      throw new UserError(
        `Unknown runs subcommand "${positionals[0]}".${didYouMean(positionals[0]!, ['show'])}`,
        'Use decomposer runs, or decomposer runs show ID.',
        'usage',
      );
    const store = Store.open(dbFileOf(o));
    try {
      if (positionals[0] === 'show') {
        const id = parseBounded(positionals[1] ?? '', ROW_ID);
        const run = id === null ? null : store.runs.get(id);
        if (!run)
          throw new UserError(
            `No run ${positionals[1] ?? '(missing ID)'} in ${store.file}.`,
            'Run decomposer runs to list them.',
            'no-run',
          );
        if (json) printJson({ run });
        else {
          const out = [
            runsTable([run]),
            `params   ${JSON.stringify(run.params)}`,
            run.error ? `error    ${run.error}` : '',
            run.machine
              ? `machine  ${run.machine.cpu_model}, ${run.machine.cpu_cores} cores/${run.machine.cpu_threads} threads, ${(run.machine.memory_bytes / 2 ** 30).toFixed(1)} GiB, ${run.machine.gpus.join(', ') || 'no GPU'}, ${run.machine.os}`
              : '',
            run.backend_detail ? `backend  ${run.backend_detail}` : '',
            run.energy ? `energy   ${describeEnergy(run.energy)}` : 'energy   (none recorded)',
            run.energy_fixed_epochs
              ? `fixed epochs (${run.epochs.at(-1)?.epoch}): ${fmtE(run.energy_fixed_epochs)}`
              : '',
            run.energy_until_best
              ? `until best (epoch ${run.best_epoch}): ${fmtE(run.energy_until_best)}`
              : '',
            run.power
              ? `power    ${run.power.samples} samples every ${run.power.intervalMs} ms (${run.power.missed} missed), idle measured ${run.power.idleSeconds} s, trace ${run.power.traceFile ?? '-'}`
              : '',
            ...run.epochs.map(
              (e) =>
                `  epoch ${e.epoch}${e.best ? '*' : ' '} loss ${e.loss?.toFixed(3) ?? '-'} val ${e.val_accuracy !== null ? fmtPct(e.val_accuracy) : '-'}  cumulative ${fmtE(e.energy)}`,
            ),
          ].filter(Boolean);
          print(out.join('\n'));
        }
        return EXIT.ok;
      }
      const runs = store.runs.list({ kind: o.kind, status: o.status, limit });
      if (json) printJson({ db: store.file, runs });
      else if (!runs.length) print(`no runs recorded in ${store.file} yet`);
      else print(runsTable(runs));
      return EXIT.ok;
    } finally {
      store.close();
    }
  },
};
