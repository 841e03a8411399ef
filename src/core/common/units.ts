// Units for the app's charts: one unit per chart, the largest in which its largest figure is
// at least 1 (so a chart of reuse's milligrams does not read in kilograms), and tick labels a
// person can read at a glance: plain decimals from 0.001 to 1000, powers of ten beyond, and
// on a crowded axis only every second (third, …) decade labelled so no two labels overlap.

export interface Unit {
  name: string;
  /** How many of the base unit (kg, kWh) one of this unit is. */
  size: number;
}

export const CO2E_UNITS: readonly Unit[] = [
  { name: 'kg', size: 1 },
  { name: 'g', size: 1e-3 },
  { name: 'mg', size: 1e-6 },
  { name: 'µg', size: 1e-9 },
];

export const ENERGY_UNITS: readonly Unit[] = [
  { name: 'kWh', size: 1 },
  { name: 'Wh', size: 1e-3 },
  { name: 'mWh', size: 1e-6 },
  { name: 'µWh', size: 1e-9 },
];

/** The unit to show `values` (in the base unit) in: the largest in which the largest is >= 1. */
export function chartUnit(values: readonly number[], units: readonly Unit[]): Unit {
  let max = 0;
  for (const v of values) if (Number.isFinite(v) && Math.abs(v) > max) max = Math.abs(v);
  return units.find((u) => max >= u.size) ?? units.at(-1)!;
}

const SUPERSCRIPT = '⁰¹²³⁴⁵⁶⁷⁸⁹';

/** 10 to the power `e`, as text: "10⁻⁶". */
export function powerOfTen(e: number): string {
  const digits = [...String(Math.abs(e))].map((d) => SUPERSCRIPT[Number(d)]).join('');
  return `10${e < 0 ? '⁻' : ''}${digits}`;
}

/** The label of a log axis's tick at 10^d base units, in `unit`: "0.001" … "1000", else "10⁻⁶". */
export function decadeLabel(d: number, unit: Unit): string {
  const e = d - Math.round(Math.log10(unit.size));
  if (e >= 0 && e <= 3) return String(10 ** e);
  if (e < 0 && e >= -3) return `0.${'0'.repeat(-e - 1)}1`;
  return powerOfTen(e);
}

/**
 * A figure (in the base unit) in `unit`, to three significant digits: "3.21", "0.0456",
 * "1230"; below a thousandth of the unit or from a million of it, "1.23×10⁻⁵".
 */
export function formatIn(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  const [mantissa, exp] = (value / unit.size).toExponential(2).split('e');
  const e = Number(exp);
  if (e >= -3 && e < 6) return String(Number((value / unit.size).toPrecision(3)));
  return `${mantissa}×${powerOfTen(e)}`;
}

/**
 * The decades of a log axis [lo, hi] that get a label: all of them when their labels fit,
 * else every k-th counted down from the top, k the smallest step at which labels `charPx`
 * wide per character, with a gap, no longer overlap on `width` pixels.
 */
export function labelledDecades(
  lo: number,
  hi: number,
  width: number,
  labels: (d: number) => string,
  charPx: number,
): number[] {
  const decades: number[] = [];
  for (let d = lo; d <= hi; d++) decades.push(d);
  if (hi <= lo) return decades;
  const widest = Math.max(...decades.map((d) => [...labels(d)].length)) * charPx + 8;
  const perDecade = width / (hi - lo);
  const step = Math.max(1, Math.ceil(widest / perDecade));
  return decades.filter((d) => (hi - d) % step === 0);
}
