// `decomposer bench`: images/s of inference and training for each engine (of a ResNet it
// builds, or of a model folder: model.ts), with the worker pool and without, side by side
// with PyTorch when it is installed (ratios measured in the same run; the machine is too noisy
// to compare absolute times across runs), and the figures the paper's claims rest on. One file
// per figure; each emits figure objects, which the shell prints.
import { co2eRatioFigure } from './co2e.ts';
import { decompositionFigures } from './decomposition.ts';
import type { BenchSettings, Emit } from './figure.ts';
import { onnxInferenceFigures } from './inference.ts';
import { machineFigure } from './machine.ts';
import { memoryFigure } from './memory.ts';
import { modelFigure, modelLabel, readModelFolder, torchModel } from './model.ts';
import { BenchRun } from './run.ts';
import { tfjsFigures } from './tfjs.ts';
import { startTorch } from './torch.ts';
import { onnxTrainingFigures } from './training.ts';

export type { BenchFigure, BenchSettings, Emit } from './figure.ts';

/**
 * Measures every figure `settings` asks for, in the order they are printed. A --model folder
 * that holds no model is one UserError before any figure.
 */
export async function runBench(settings: BenchSettings, emit: Emit): Promise<void> {
  const folder = settings.model ? await readModelFolder(settings.model) : null;
  // Before anything of ours runs: the background every figure is measured against.
  machineFigure(emit);
  const torch = await startTorch(settings, torchModel(settings, folder), modelLabel(settings, folder), emit);
  try {
    const run = await BenchRun.create(settings, emit, torch, folder);
    modelFigure(run.model, emit);
    for (const backend of settings.backends) {
      if (backend === 'onnxruntime') await onnxTrainingFigures(run);
      else await tfjsFigures(run, backend);
    }
    // After the training engines are gone, so neither steals the other's cores.
    await onnxInferenceFigures(run);
    if (settings.decomposition) await decompositionFigures(run);
    co2eRatioFigure(settings.dbFile, emit);
    if (settings.memory) await memoryFigure(run);
  } finally {
    torch?.close();
  }
}
