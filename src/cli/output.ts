// How the CLI talks: progress, warnings and errors on stderr in every mode (with --json
// too); the result on stdout (human lines, or one JSON object with --json); and exit codes
// that mean something.
import { describeError, isUserError } from '../core/common/errors.ts';
import { formatAmount } from '../core/common/numbers.ts';

export const EXIT = {
  ok: 0,
  /** Something broke that the user could not have prevented. */
  failure: 1,
  /** Bad arguments or bad input: the message says what to change. */
  usage: 2,
  /**
   * The command did its part, but what it reports on is not complete (a merge that leaves a
   * plan's tasks missing or failed): scripts and schedulers see it without reading the text.
   */
  incomplete: 3,
  /** Cancelled by the user (Ctrl-C); finished work was kept. */
  cancelled: 130,
} as const;

/** Progress, a warning or an error: stderr, in every mode. */
export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Progress of stages with a fraction done, as lines on stderr (readable in a log as on a
 * terminal): one when the stage changes and one every 10%.
 */
export function stageProgress(): (fraction: number | null, stage: string, detail?: string) => void {
  let last = '';
  return (fraction, stage, detail) => {
    const at = fraction === null ? '' : ` ${Math.floor(fraction * 10) * 10}%`;
    if (`${stage}${at}` !== last) info(`  ${stage}${at}${detail ? `  ${detail}` : ''}`);
    last = `${stage}${at}`;
  };
}

/** A line of the command's result: stdout (with --json, the JSON object is printed instead). */
export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A measured amount (kWh, CO2e, W, J) the one way the CLI writes them (common/numbers.ts). */
export const fmtAmount = formatAmount;

/**
 * A table: a header row, then one line per row, each column as wide as its widest cell (no
 * name is cut), columns `right` right-aligned (numbers), the others left-aligned.
 */
export function formatTable(header: string[], rows: string[][], right: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    header
      .map((_, i) => {
        const c = cells[i] ?? '';
        return right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Prints an error as one line and returns the exit code it means. */
export function reportError(e: unknown, json: boolean): number {
  const user = isUserError(e);
  const message = describeError(e);
  if (json) printJson({ error: { message, code: user ? e.code : 'internal' } });
  info(`error: ${message}`);
  if (!user && process.env.DECOMPOSER_DEBUG && e instanceof Error) info(e.stack ?? '');
  return user ? EXIT.usage : EXIT.failure;
}

export function fmtPct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 90) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 90
    ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A Ctrl-C turns into an abort signal; a second one exits at once. */
export function interruptSignal(): AbortSignal {
  const ac = new AbortController();
  process.once('SIGINT', () => {
    info('\ncancelling after the current batch (Ctrl-C again to quit at once)…');
    ac.abort();
    process.once('SIGINT', () => process.exit(EXIT.cancelled));
  });
  return ac.signal;
}

/** CSV by the app's one rule (quoting, formulas neutralised): see core/common/csv.ts. */
export { toCsv } from '../core/common/csv.ts';
