// The `decomposer` command: a thin Node shell over the core.
import { UserError } from '../core/common/errors.ts';
import { didYouMean } from '../core/common/suggest.ts';
import { EXIT, reportError } from './output.ts';
import { COMMANDS as commands } from './commands/index.ts';
import { parseCommandArgs, parseOptions, type Values } from './command.ts';
import { PROCESS_DEFAULTS, useProcessDefaults } from './options.ts';

function topHelp(): string {
  return [
    'decomposer: decompose trained CNNs into per-class modules, reuse them, and measure the energy saved.',
    '',
    'Usage: decomposer <command> [options]   (decomposer <command> --help for its options)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(8)} ${c.summary}`),
    '',
    'Exit codes: 0 done, 1 internal failure, 2 bad arguments or input, 130 cancelled (finished work kept).',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${topHelp()}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  const cmd = commands.find((c) => c.name === name);
  const json = rest.includes('--json');
  if (!cmd) {
    const close = didYouMean(
      name,
      commands.map((c) => c.name),
      (c) => `"decomposer ${c}"`,
    );
    return reportError(
      new UserError(
        `Unknown command "${name}".${close}`,
        `Run decomposer --help to see the commands.`,
        'usage',
      ),
      json,
    );
  }
  let parsed;
  try {
    parsed = parseOptions(cmd, rest);
  } catch (e) {
    return reportError(e, json);
  }
  if (parsed.values.help) {
    process.stdout.write(`${cmd.usage}\n`);
    return EXIT.ok;
  }
  try {
    // One pure parse of the options (and the environment variables the command reads) before
    // any work; then the core is told, once, the choices that hold for the whole process.
    const values = parsed.values as Values;
    const o = parseCommandArgs(cmd.name, cmd.args, values);
    useProcessDefaults(parseCommandArgs(cmd.name, PROCESS_DEFAULTS, values));
    return await cmd.run(o, parsed.positionals);
  } catch (e) {
    return reportError(e, Boolean(parsed.values.json));
  }
}
