// What a training trains: a ResNet of ours (depth, batch norm), or an imported model's own
// architecture (its plan, from fresh weights: graph/fresh-plan.ts) with that model's
// preprocessing. A baseline of an imported model must train that architecture or nothing: a
// baseline of another architecture would make every comparison meaningless.
import { UserError } from '../../common/errors.ts';
import { freshPlan } from '../graph/fresh-plan.ts';
import {
  DEFAULT_PREPROCESS,
  modelToArtifacts,
  readModelDir,
  type ModelArtifacts,
  type ModelMeta,
  type PlanArtifacts,
  type Preprocess,
} from '../models/io.ts';
import { buildResNet } from '../models/resnet.ts';

export type ImportedMeta = Extract<ModelMeta, { architecture: 'imported' }>;

/** An imported model's architecture, to train from scratch. */
export interface ImportedArchitecture {
  /** The model folder it was read from. */
  dir: string;
  artifacts: PlanArtifacts;
  meta: ImportedMeta;
}

/** The architecture of the imported model in `dir`. */
export async function importedArchitecture(dir: string): Promise<ImportedArchitecture> {
  const read = await readModelDir(dir);
  if (read.meta?.architecture !== 'imported' || read.artifacts.kind !== 'plan')
    throw new Error(`${dir} does not hold an imported model`);
  return { dir: read.dir, artifacts: read.artifacts, meta: read.meta };
}

/** What a run folder records of the architecture: a resume must train the same one. */
export function architectureKey(a: ImportedArchitecture | undefined): string | undefined {
  return a ? `imported:${a.meta.source.sha256}` : undefined;
}

/** The preprocessing the architecture's inputs get. */
export function preprocessOf(a: ImportedArchitecture | undefined): Preprocess {
  return a?.meta.preprocess ?? DEFAULT_PREPROCESS;
}

/** The architecture's part of the saved models' metadata. */
export function architectureMeta(
  a: ImportedArchitecture | undefined,
  cfg: { depth: number; batchNorm: boolean },
):
  | { architecture: 'resnet'; depth: number; batchNorm: boolean }
  | { architecture: 'imported'; source: ImportedMeta['source'] } {
  return a
    ? { architecture: 'imported', source: a.meta.source }
    : { architecture: 'resnet', depth: cfg.depth, batchNorm: cfg.batchNorm };
}

/**
 * A fresh, seeded model of the architecture for `classes` classes of `size`x`size` images,
 * and what to say of it (an imported graph without normalisation).
 */
export async function freshModel(
  a: ImportedArchitecture | undefined,
  cfg: { depth: number; batchNorm: boolean; seed: number },
  size: number,
  classes: number,
): Promise<{ artifacts: ModelArtifacts; note: string | null }> {
  if (!a) {
    const model = buildResNet({
      depth: cfg.depth,
      inputSize: size,
      classes,
      batchNorm: cfg.batchNorm,
      seed: cfg.seed,
    });
    const artifacts = await modelToArtifacts(model);
    model.dispose();
    return { artifacts, note: null };
  }
  const side = a.meta.inputSize;
  if (side !== size)
    throw new UserError(
      `The imported model in ${a.dir} takes ${side}×${side} images, but the data to train its architecture on is ${size}×${size}.`,
      `Train it on images of ${side}×${side}.`,
      'model-data-mismatch',
    );
  const fresh = freshPlan(a.artifacts, { classes, seed: cfg.seed });
  return { artifacts: fresh.artifacts, note: normalisationNote(a, fresh.zeroed.length) };
}

/** What to say of training an imported architecture without batch normalisation (null: it has some). */
function normalisationNote(a: ImportedArchitecture, zeroed: number): string | null {
  const { batchNorm, file } = a.meta.source;
  if (batchNorm === 'present') return null;
  const why = batchNorm === 'folded' ? 'the exporter folded it into the convolutions' : 'it never had any';
  const start = zeroed
    ? `its ${zeroed} residual branches start at zero so that it trains`
    : 'from PyTorch’s default initialisation';
  return `${file} has no BatchNormalization (${why}): its architecture trains without normalisation, ${start}.`;
}

/** What a training of the imported model in `dir` should tell its user first, if anything. */
export async function architectureNote(dir: string): Promise<string | null> {
  const a = await importedArchitecture(dir);
  return normalisationNote(a, freshPlan(a.artifacts, { classes: a.meta.classes, seed: 1 }).zeroed.length);
}
