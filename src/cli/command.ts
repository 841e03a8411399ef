// What a `decomposer` command is: its name, help and options, and what it runs.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../core/common/errors.ts';
import { didYouMean } from '../core/common/suggest.ts';

export type Values = Record<string, string | boolean | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Values, positionals: string[]): Promise<number>;
}

/** Options every command takes. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * A command's arguments, parsed strictly: an unknown flag, a flag without its value or a
 * switch given one is one message naming the flag (and the one meant, where one is close),
 * before the command runs.
 */
export function parseOptions(cmd: Command, args: string[]) {
  const options = { ...COMMON_OPTIONS, ...cmd.options };
  const usage = (message: string) =>
    new UserError(message, `Run decomposer ${cmd.name} --help to see its options.`, 'usage');
  const flags = Object.keys(options).map((k) => `--${k}`);
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const o = (options as Record<string, { type: string }>)[t.name];
    if (!o) {
      const close = didYouMean(t.rawName.replace(/^-+/, '--'), flags);
      throw usage(`decomposer ${cmd.name} has no option ${t.rawName}.${close}`);
    }
    // A value that looks like a flag is taken for a forgotten value, as strict parsing does.
    if (o.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))))
      throw usage(
        `${t.rawName} needs a value${t.value ? ` (for one that starts with "-", write --${t.name}=${t.value})` : ''}.`,
      );
    if (o.type === 'boolean' && t.inlineValue) throw usage(`${t.rawName} is a switch and takes no value.`);
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usage((e as Error).message.split('\n')[0]!);
  }
}
