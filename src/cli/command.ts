// What a `decomposer` command is: its name, help and options, the schema its options are
// parsed with (into the parameters it runs with, the app's where it has them), and what it runs.
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../core/common/errors.ts';
import { describeIssues, v } from '../core/common/schema.ts';
import { didYouMean } from '../core/common/suggest.ts';

/** Option values as node:util's parser gives them, and the environment variables a command reads. */
export type Values = Record<string, string | boolean | undefined>;

/** What every command's parsed options hold. */
export interface CommandArgs {
  json: boolean;
}

export interface Command<T extends CommandArgs = CommandArgs> {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /**
   * The options (and the environment variables the command reads, by their names) parsed
   * into what `run` takes: one pure parse, before any work, with no effect outside it.
   */
  args: v.GenericSchema<unknown, T>;
  run(o: T, positionals: string[]): Promise<number>;
}

/** Options every command takes. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The schema entries of COMMON_OPTIONS. */
export const COMMON_ARGS = { json: v.optional(v.boolean(), false) };

const usage = (cmd: string, message: string) =>
  new UserError(message, `Run decomposer ${cmd} --help to see its options.`, 'usage');

/**
 * A command's arguments, parsed strictly: an unknown flag, a flag without its value or a
 * switch given one is one message naming the flag (and the one meant, where one is close),
 * before the command runs.
 */
export function parseOptions(cmd: Pick<Command, 'name' | 'options'>, args: string[]) {
  const options = { ...COMMON_OPTIONS, ...cmd.options };
  const flags = Object.keys(options).map((k) => `--${k}`);
  const { tokens } = nodeParseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const o = (options as Record<string, { type: string }>)[t.name];
    if (!o) {
      const close = didYouMean(t.rawName.replace(/^-+/, '--'), flags);
      throw usage(cmd.name, `decomposer ${cmd.name} has no option ${t.rawName}.${close}`);
    }
    // A value that looks like a flag is taken for a forgotten value, as strict parsing does.
    if (o.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))))
      throw usage(
        cmd.name,
        `${t.rawName} needs a value${t.value ? ` (for one that starts with "-", write --${t.name}=${t.value})` : ''}.`,
      );
    if (o.type === 'boolean' && t.inlineValue)
      throw usage(cmd.name, `${t.rawName} is a switch and takes no value.`);
  }
  try {
    return nodeParseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usage(cmd.name, (e as Error).message.split('\n')[0]!);
  }
}

/** An environment variable a command reads is named as it is; an option by its flag. */
const fieldName = (key: string) => (/^[A-Z][A-Z0-9_]*$/.test(key) ? key : `--${key}`);

/**
 * The options and `env` parsed with `schema`, or one UserError (exit 2) naming each option
 * broken and its rule, in the format of every refusal: `decomposer train: --epochs: must be a
 * whole number from 1 to 1000 (got "0x10")`. Environment variables are read only by name
 * (the schema's upper-case keys) and only when set.
 */
export function parseCommandArgs<T>(
  cmd: string,
  schema: v.GenericSchema<unknown, T>,
  values: Values,
  env: NodeJS.ProcessEnv = process.env,
): T {
  const input: Record<string, unknown> = { ...values };
  const entries = 'entries' in schema ? (schema.entries as Record<string, unknown>) : {};
  for (const key of Object.keys(entries))
    if (fieldName(key) === key && env[key] !== undefined && env[key] !== '') input[key] = env[key];
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  throw usage(cmd, `decomposer ${cmd}: ${describeIssues(r.issues, { field: fieldName })}.`);
}
