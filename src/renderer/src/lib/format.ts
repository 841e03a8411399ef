// Formatting shared by the pages.
import { isEstimatedSource, type JobStatus } from '../../../core/common/api.ts';
import { formatAmount } from '../../../core/common/numbers.ts';

export function pct(x: number | null | undefined): string {
  return x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(1)}%`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A measured amount in the one format the CLI writes it in too (common/numbers.ts). */
export function num(x: number | null | undefined, digits = 3): string {
  return x == null || !Number.isFinite(x) ? '—' : formatAmount(x, digits);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export const STATUS_TEXT: Record<JobStatus, string> = {
  running: 'Running',
  finished: 'Finished',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

/** Whether an energy source label means an estimate rather than a measurement. */
export function isEstimated(source: string | null | undefined): boolean {
  return isEstimatedSource(source);
}
