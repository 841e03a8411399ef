// One rule for every CSV the app writes (the CLI's `predict --csv` and `export`, the pages'
// table exports): RFC 4180 quoting, objects as JSON, and text a spreadsheet would run as a
// formula neutralised. Class names, file names, labels and dataset names come from users'
// files, and a cell such as `=1+2` or `@SUM(A1)` opened in a spreadsheet is evaluated, so text
// that starts with = + - @ (or a tab or carriage return, which some spreadsheets skip before
// one) is written with a leading apostrophe, which spreadsheets show as text. Numbers are
// numbers: a negative one keeps its minus sign.

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell: empty for null/undefined, objects as JSON, quoted where RFC 4180 needs it. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') s = String(v);
  else {
    s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (FORMULA_START.test(s)) s = `'${s}`;
  }
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A header row and the rows, each cell by `csvCell`, lines ended by `eol`. */
export function toCsv(
  header: readonly string[],
  rows: readonly (readonly unknown[])[],
  eol: '\n' | '\r\n' = '\n',
): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join(eol) + eol;
}
