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

/** One line per issue, the field first ("layers[0].size"), then the rule. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], max = 3): string {
  const lines = issues.slice(0, max).map((i) => {
    const field = (i.path ?? [])
      .map((p, n) =>
        typeof p.key === 'number' ? `[${p.key}]` : n === 0 ? String(p.key) : `.${String(p.key)}`,
      )
      .join('');
    // An object's key that is not there (valibot expects the key's own name) reads "is missing".
    const key = i.path?.at(-1)?.key;
    if (
      i.kind === 'schema' &&
      i.type === 'object' &&
      i.expected === JSON.stringify(key) &&
      i.input === undefined
    )
      return `${field}: is missing`;
    // A wrong type reads "must be number (got "x")"; a broken rule reads as its own message.
    const rule = i.kind === 'schema' ? `must be ${i.expected ?? i.type}` : i.message;
    return `${field || 'the value'}: ${rule} (got ${i.kind === 'schema' ? (i.received ?? shown(i.input)) : shown(i.input)})`;
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
): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  throw new UserError(`${what} is not valid: ${describeIssues(r.issues)}.`, hint, code);
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
