// How the CLI talks: human lines on stderr while working, the result on stdout (one JSON
// object with --json), and exit codes that mean something.
import { describeError, isUserError } from '../core/common/errors.ts';

export const EXIT = {
  ok: 0,
  /** Something broke that the user could not have prevented. */
  failure: 1,
  /** Bad arguments or bad input: the message says what to change. */
  usage: 2,
  /** Cancelled by the user (Ctrl-C); finished work was kept. */
  cancelled: 130,
} as const;

export function info(line: string): void {
  process.stderr.write(`${line}\n`);
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
