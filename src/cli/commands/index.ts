// The registry of `decomposer` commands, in the order --help lists them. Command files import
// the shared CLI modules (command, options, models, training, scenarios, output), never
// each other nor main.ts (the linter enforces it).
import type { Command } from '../command.ts';
import { benchCommand } from './bench.ts';
import { decomposeCommand } from './decompose.ts';
import { demoCommand } from './demo.ts';
import { downloadCommand } from './download.ts';
import { energyCommand } from './energy.ts';
import { evaluateCommand } from './evaluate.ts';
import { experimentCommand } from './experiment.ts';
import { exportCommand } from './export.ts';
import { exportModelCommand } from './export-model.ts';
import { importCommand } from './import.ts';
import { mergeCommand } from './merge.ts';
import { predictCommand } from './predict.ts';
import { runsCommand } from './runs.ts';
import { serveCommand } from './serve.ts';
import { submitCommand } from './submit.ts';
import { taskCommand } from './task.ts';
import { trainCommand } from './train.ts';
import { wizardCommand } from './wizard.ts';

export const COMMANDS: Command[] = [
  trainCommand,
  decomposeCommand,
  evaluateCommand,
  experimentCommand,
  wizardCommand,
  predictCommand,
  importCommand,
  exportModelCommand,
  demoCommand,
  benchCommand,
  downloadCommand,
  serveCommand,
  runsCommand,
  exportCommand,
  energyCommand,
  taskCommand,
  mergeCommand,
  submitCommand,
];
