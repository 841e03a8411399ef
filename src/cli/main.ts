// The `decomposer` command: a thin Node shell over the core.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../core/common/errors.ts';
import { EXIT, reportError } from './output.ts';
import { trainCommand } from './commands/train.ts';
import { benchCommand } from './commands/bench.ts';
import { demoCommand } from './commands/demo.ts';
import { serveCommand } from './commands/serve.ts';
import { downloadCommand } from './commands/download.ts';
import { energyCommand } from './commands/energy.ts';
import { runsCommand } from './commands/runs.ts';
import { exportCommand } from './commands/export.ts';
import { decomposeCommand } from './commands/decompose.ts';
import { evaluateCommand } from './commands/evaluate.ts';
import { experimentCommand } from './commands/experiment.ts';
import { wizardCommand } from './commands/wizard.ts';
import { predictCommand } from './commands/predict.ts';

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

export const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const commands: Command[] = [
  trainCommand,
  decomposeCommand,
  evaluateCommand,
  experimentCommand,
  wizardCommand,
  predictCommand,
  demoCommand,
  benchCommand,
  downloadCommand,
  serveCommand,
  runsCommand,
  exportCommand,
  energyCommand,
];

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
  if (!cmd)
    return reportError(
      new UserError(`Unknown command "${name}".`, `Run decomposer --help to see the commands.`, 'usage'),
      json,
    );
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...COMMON_OPTIONS, ...cmd.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    return reportError(
      new UserError((e as Error).message, `Run decomposer ${cmd.name} --help.`, 'usage'),
      json,
    );
  }
  if (parsed.values.help) {
    process.stdout.write(`${cmd.usage}\n`);
    return EXIT.ok;
  }
  try {
    return await cmd.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
  } catch (e) {
    return reportError(e, Boolean(parsed.values.json));
  }
}

/** Reads an integer option, with a clear message when it is not one. */
export function intOption(values: Record<string, unknown>, key: string, fallback: number, min = 0): number {
  const v = values[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UserError(
      `--${key} must be a whole number >= ${min}, not "${v}".`,
      `Run with --help to see the options.`,
      'usage',
    );
  return n;
}

export function numberOption(values: Record<string, unknown>, key: string, fallback: number): number {
  const v = values[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n))
    throw new UserError(
      `--${key} must be a number, not "${v}".`,
      `Run with --help to see the options.`,
      'usage',
    );
  return n;
}
