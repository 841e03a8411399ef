// What every repository shares: the connection it reads and writes through, and how a row is
// read back. Each row is checked with its table's schema, and each JSON column with the
// schema of what it holds (common/schema.ts), so a type is written once and a row read back
// is what its type says.
//
// A row a listing cannot use is never fatal: a JSON column that does not parse, or does not
// hold its shape, reads as absent (its fallback) and a row whose own columns break their
// schema is left out; either way one warning names the row, the field and the rule (once per
// store, however often the row is listed), and everything else is shown.
import type Database from 'better-sqlite3';
import { describeError } from '../../common/errors.ts';
import { describeIssues, v } from '../../common/schema.ts';

/** The connection the repositories share (the Store implements it). */
export interface StoreAccess {
  readonly file: string;
  readonly db: Database.Database;
  /** Runs `fn` as one IMMEDIATE transaction (the only way the store writes). */
  write<T>(fn: () => T): T;
  /** A read, with SQLite's refusals explained. */
  read<T>(fn: () => T): T;
  /** A row read with a field missing or left out: said once per store. */
  warn(line: string): void;
}

export const iso = (ms = Date.now()) => new Date(ms).toISOString();

/** A value as JSON text for a *_json column (NULL for undefined). */
export const toJson = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/** A JSON column that holds an object of any fields (parameters, a grid's row). */
export const JsonObject = v.record(v.string(), v.unknown());

/** A JSON column that holds a list of names (GPUs, power sources). */
export const JsonNames = v.array(v.string());

/** A column of JSON text, or NULL (whatever SQLite returns is checked by the JSON reader). */
export const jsonText = v.unknown();

/**
 * A JSON column parsed and checked with its schema: `fallback` when it is NULL, and when it
 * does not parse or breaks its schema (with a warning naming `where` and `field`, and saying
 * what becomes of it: `outcome`).
 */
export function readJson<S extends v.GenericSchema, F>(
  s: StoreAccess,
  schema: S,
  text: unknown,
  fallback: F,
  where: string,
  field: string,
  outcome = 'shown without it',
): v.InferOutput<S> | F {
  if (typeof text !== 'string') return fallback;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    s.warn(`${where}: its ${field} could not be read (not valid JSON: ${describeError(e)}); ${outcome}.`);
    return fallback;
  }
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  s.warn(`${where}: its ${field} could not be read (${describeIssues(r.issues)}); ${outcome}.`);
  return fallback;
}

/** One row checked with its table's schema, or null (with a warning) when it breaks it. */
export function readRow<S extends v.GenericSchema>(
  s: StoreAccess,
  schema: S,
  row: unknown,
  where: (row: unknown) => string,
): v.InferOutput<S> | null {
  const r = v.safeParse(schema, row);
  if (r.success) return r.output;
  s.warn(`${where(row)} could not be read (${describeIssues(r.issues)}); it is left out.`);
  return null;
}

/** The rows that keep their table's schema (the others left out, with a warning each). */
export function readRows<S extends v.GenericSchema>(
  s: StoreAccess,
  schema: S,
  rows: unknown[],
  where: (row: unknown) => string,
): v.InferOutput<S>[] {
  const out: v.InferOutput<S>[] = [];
  for (const row of rows) {
    const r = readRow(s, schema, row, where);
    if (r !== null) out.push(r);
  }
  return out;
}

/** Names a row for a warning: "run 7" (its `key` column), "run ?" when even that is unreadable. */
export function rowName(what: string, key = 'id'): (row: unknown) => string {
  return (row) => {
    const id: unknown = typeof row === 'object' && row !== null ? Reflect.get(row, key) : undefined;
    return `${what} ${typeof id === 'number' || typeof id === 'string' ? id : '?'}`;
  };
}
