// What the cluster commands share: a grid's models loaded as a plan names them (each node
// reads the same folders and datasets), and writing a grid's plan (experiment … --plan).
import path from 'node:path';
import type { GridParams } from '../core/common/reuse.ts';
import type { MeasureContext } from '../core/node/measure/measured.ts';
import { gridSpec } from '../core/node/workflows/grid-spec.ts';
import type { GridModel } from '../core/node/workflows/grid.ts';
import {
  defaultShards,
  makePlan,
  phases,
  writePlan,
  type Plan,
} from '../core/node/workflows/cluster/plan.ts';
import { modelDataset, openModel } from './models.ts';
import { EXIT, print, printJson } from './output.ts';

export type LoadedGridModel = GridModel & { depth: number };

/** A grid's models opened and their datasets loaded: as given on the command line, or as a plan names them. */
export async function loadGridModels(
  given: { dir: string | undefined; dataset: string | undefined }[],
  inference: 'auto' | 'onnxruntime' | 'tfjs',
  home: string,
): Promise<LoadedGridModel[]> {
  const out: LoadedGridModel[] = [];
  for (const g of given) {
    const m = await openModel(g.dir, inference);
    try {
      out.push({ dir: m.dir, data: await modelDataset(g.dataset, m, home), depth: m.meta?.depth ?? 20 });
    } finally {
      await m.engine.close();
    }
  }
  return out;
}

/** The models a plan names, loaded as its tasks see them. */
export const planModels = (plan: Plan, home: string) =>
  loadGridModels(
    plan.models.map((m) => ({ dir: m.dir, dataset: m.dataset ?? undefined })),
    plan.params.inference ?? 'auto',
    home,
  );

/** How a node runs this decomposer: this Node and this bin/decomposer.js, by absolute path. */
export const selfCommand = () => [process.execPath, path.resolve(process.argv[1] ?? 'decomposer')];

/** Writes a grid's plan (experiment reuse|replace … --plan FILE) and prints its task count; runs nothing. */
export async function writeGridPlan(
  file: string,
  o: {
    params: GridParams;
    models: (LoadedGridModel & { dataset: string | undefined })[];
    workDir: string;
    json: boolean;
  },
  ctx: MeasureContext,
): Promise<number> {
  const spec = gridSpec(o.params, { settings: ctx.settings, models: o.models });
  const plan = await makePlan({
    spec,
    models: o.models,
    settings: ctx.settings,
    workDir: o.workDir,
    shards: defaultShards(file),
    command: selfCommand(),
  });
  await writePlan(file, plan);
  const p = phases(plan);
  const out = path.resolve(file);
  if (o.json)
    printJson({
      plan: out,
      grid: plan.grid,
      tasks: plan.tasks.length,
      phase1: p.one,
      phase2: p.two,
      shards: plan.shards,
    });
  else {
    print(
      `${plan.tasks.length} tasks: ${p.one} decomposition(s) (phase one: tasks 0-${p.one - 1}), then ${p.two} baseline(s) with their scenarios (phase two: tasks ${p.one}-${plan.tasks.length - 1})`,
    );
    print(`plan of grid ${plan.grid} written to ${out}; shards go to ${plan.shards}`);
    print(`run a task: decomposer task ${out} --index I   (or: decomposer submit slurm|kubernetes ${out})`);
  }
  return EXIT.ok;
}
