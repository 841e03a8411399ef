// One schema per shape that crosses a boundary (DESIGN: Boundaries). Shapes are written once
// with valibot (small, tree-shakeable, types inferred from the schema), and every refusal
// names the field and the rule in one format: `<what>: <field>: <rule> (got <value>)`.
import * as v from 'valibot';
import { UserError } from './errors.ts';

export { v };

/** How a value is shown in a refusal: short, and never a whole hostile payload. */
function shown(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (typeof x === 'number' || typeof x === 'boolean' || x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return `an array of ${x.length}`;
  return 'an object';
}

/** valibot's own wording ("Invalid type: Expected … but received …"): replaced by ours. */
const DEFAULT_MESSAGE = /^Invalid \w+: Expected /;

export interface DescribeOptions {
  /** At most this many issues are described (default 3). */
  max?: number;
  /** The name of the whole value, for an issue with no field (default "the value"). */
  whole?: string;
  /** How a top-level field is named (the CLI writes "--per-class" for "per-class"). */
  field?: (key: string) => string;
}

/** An object's field that is missing (a key expected) or unknown (a key refused). */
const keyIssue = (i: v.BaseIssue<unknown>): 'missing' | 'unknown' | null =>
  i.kind === 'schema' && i.path?.at(-1)?.origin === 'key'
    ? i.expected === 'never'
      ? 'unknown'
      : 'missing'
    : null;

/** One issue's rule in words: what the field must be, or the message its schema gave. */
function rule(i: v.BaseIssue<unknown>): string {
  const key = keyIssue(i);
  if (key) return key === 'unknown' ? 'is an unknown field' : 'is missing';
  if (i.kind !== 'schema') return i.message;
  return DEFAULT_MESSAGE.test(i.message) ? `must be ${i.expected ?? i.type}` : i.message;
}

/** What was given where the issue is (the field's own value, also for a rule between fields). */
function given(i: v.BaseIssue<unknown>): string {
  if (i.kind === 'schema' && i.type !== 'custom' && i.received) return i.received;
  const at = i.path?.at(-1);
  return shown(at && 'value' in at ? at.value : i.input);
}

/** One line per issue, the field first ("layers[0].size"), then the rule and what was given. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], o: DescribeOptions = {}): string {
  const max = o.max ?? 3;
  const lines = issues.slice(0, max).map((i) => {
    const field = (i.path ?? [])
      .map((p, n) =>
        typeof p.key === 'number'
          ? `[${p.key}]`
          : n === 0
            ? (o.field ?? String)(String(p.key))
            : `.${String(p.key)}`,
      )
      .join('');
    const got = keyIssue(i) ? '' : ` (got ${given(i)})`;
    return `${field || (o.whole ?? 'the value')}: ${rule(i)}${got}`;
  });
  if (issues.length > max) lines.push(`and ${issues.length - max} more`);
  return lines.join('; ');
}

/**
 * Parses `value` with `schema`, or throws one UserError that says what was being read, which
 * field broke which rule, and what to do (`hint`).
 */
export function parseWith<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  what: string,
  hint: string,
  code = 'bad-input',
  o: DescribeOptions = {},
): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  throw new UserError(`${what} is not valid: ${describeIssues(r.issues, o)}.`, hint, code);
}

/** JSON text parsed and checked in one step; a syntax error is reported like a schema error. */
export function parseJsonWith<S extends v.GenericSchema>(
  schema: S,
  text: string,
  what: string,
  hint: string,
  code = 'bad-input',
): v.InferOutput<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${what} is not valid JSON: ${(e as Error).message}.`, hint, code);
  }
  return parseWith(schema, value, what, hint, code);
}

/** An integer within [min, max], with the rule in words. */
export const int = (min: number, max: number) =>
  v.pipe(
    v.number(),
    v.integer('must be a whole number'),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );

/** A finite number within [min, max]. */
export const num = (min: number, max: number) =>
  v.pipe(
    v.number(),
    v.finite('must be a finite number'),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );

/** A string that names a file or folder: not empty, not absurdly long, no NUL. */
export const PATH = v.pipe(
  v.string('must be a path'),
  v.check((s) => s.length > 0 && s.length <= 4096 && !s.includes('\0'), 'must be a path'),
);

/** An id the app hands out and gets back (a dataset's, a job's): short, printable. */
export const DATASET_ID = v.pipe(
  v.string('must be a dataset id'),
  v.check((s) => s.length > 0 && s.length <= 300, 'must be a dataset id'),
);

export const JOB_ID = v.pipe(v.string('must be a job id'), v.regex(/^[\w-]{1,80}$/, 'must be a job id'));

/** A list of distinct values, each one of `options`, at least one. */
export const someOf = <const T extends readonly (string | number)[]>(options: T, rule: string) =>
  v.pipe(
    v.array(v.picklist(options, rule), rule),
    v.minLength(1, rule),
    v.check((xs) => new Set(xs).size === xs.length, `${rule}, each once`),
  );

/** An object of exactly these fields: a field it does not know is refused by name. */
export const fields = <E extends v.ObjectEntries>(entries: E) => v.strictObject(entries, 'must be an object');
