// Does a model fit a dataset, and does a model folder agree with itself? One check, for every
// command and the app: input size, channels, class count, and the metadata a model folder
// records against its actual input and output layers. A mismatch is a UserError (exit 2)
// saying what to change, before any image reaches the engine (where it would surface as a
// bare buffer-size error).
import type { DatasetInfo } from '../../common/dataset.ts';
import { UserError } from '../../common/errors.ts';

export interface ModelToFit {
  dir: string;
  /** What the model takes and gives, as its plan (graph/plan.ts) says: [H, W, C] and classes. */
  plan: { input: { name: string; shape: number[] }; classes: number };
  meta: {
    inputSize?: number;
    classes?: number;
    classNames?: string[];
    datasetId?: string;
    preprocess?: { mean: number | number[]; std: number | number[] };
  } | null;
}

const CODE = 'model-data-mismatch';

/** The model's input as [size, channels] (square NHWC images). */
function inputOf(m: ModelToFit): { size: number; channels: number } {
  const [h, w, c] = m.plan.input.shape;
  if (!h || !w || h !== w)
    throw new UserError(
      `The model in ${m.dir} takes inputs of shape [${m.plan.input.shape.join(', ')}], not square images.`,
      'Use a model that takes square images (train one with Decomposer, or export yours with a square input).',
      CODE,
    );
  return { size: h, channels: c ?? 3 };
}

/** Refuses a model folder whose recorded metadata disagrees with its layers. */
export function checkModelMeta(m: ModelToFit): void {
  const { size, channels } = inputOf(m);
  const fix = `model.json's metadata in ${m.dir} was edited or damaged: restore the folder, or train the model again.`;
  if (channels !== 3 && channels !== 1)
    throw new UserError(
      `The model in ${m.dir} takes ${channels}-channel images; Decomposer feeds RGB (3 channels) or grey (1 channel) images.`,
      'Use a model whose input is RGB or grey.',
      CODE,
    );
  const meta = m.meta;
  if (!meta) return;
  for (const [what, x] of Object.entries({ means: meta.preprocess?.mean, stds: meta.preprocess?.std }))
    if (Array.isArray(x) && x.length !== 1 && x.length !== channels)
      throw new UserError(
        `The model in ${m.dir} records ${x.length} preprocessing ${what} but takes ${channels}-channel images.`,
        fix,
        CODE,
      );
  if (meta.inputSize !== undefined && meta.inputSize !== size)
    throw new UserError(
      `The model in ${m.dir} records ${meta.inputSize}×${meta.inputSize} images but its input layer takes ${size}×${size}.`,
      fix,
      CODE,
    );
  if (meta.classes !== undefined && meta.classes !== m.plan.classes)
    throw new UserError(
      `The model in ${m.dir} records ${meta.classes} classes but its output layer has ${m.plan.classes}.`,
      fix,
      CODE,
    );
  if (meta.classNames && meta.classNames.length !== m.plan.classes)
    throw new UserError(
      `The model in ${m.dir} names ${meta.classNames.length} classes but its output layer has ${m.plan.classes}.`,
      fix,
      CODE,
    );
}

/** Refuses a dataset the model cannot take (and a model folder that disagrees with itself). */
export function checkModelFitsData(m: ModelToFit, data: DatasetInfo): void {
  checkModelMeta(m);
  const { size } = inputOf(m);
  const trained = m.meta?.datasetId ? ` (it was trained on ${m.meta.datasetId})` : '';
  if (data.imageSize !== size)
    throw new UserError(
      `The model in ${m.dir} takes ${size}×${size} images but the dataset ${data.id} has ${data.imageSize}×${data.imageSize}.`,
      `Use a dataset of ${size}×${size} images${trained}: the embedded datasets and folders of images take --size ${size}; or use a model trained at ${data.imageSize}×${data.imageSize}.`,
      CODE,
    );
  if (data.classNames.length !== m.plan.classes)
    throw new UserError(
      `The model in ${m.dir} has ${m.plan.classes} classes but the dataset ${data.id} has ${data.classNames.length}.`,
      `Use a dataset of the model's ${m.plan.classes} classes${trained}, or a model trained on this dataset.`,
      CODE,
    );
}

/** The kind of dataset an id names: its first word ("synthetic", "mnist", "cifar10", "folder"). */
const kindOf = (id: string) => id.split('-')[0];

/**
 * What a person should know about a dataset the model takes but did not learn: other class
 * names than the model's, or (for a model that records no names) another kind of dataset than
 * the one it was trained on. Its predictions are then read as the dataset's classes by
 * position, so the accuracy measures transfer, not the model. Warnings, not refusals.
 */
export function modelDataWarnings(m: ModelToFit, data: DatasetInfo): string[] {
  const names = m.meta?.classNames;
  const trained = m.meta?.datasetId;
  if (names && names.length === data.classNames.length) {
    const differ = names.flatMap((n, i) => (n === data.classNames[i] ? [] : [i]));
    if (differ.length) {
      const i = differ[0]!;
      return [
        `the model's classes are not those of ${data.name}: class ${i} is "${names[i]}" in the model but "${data.classNames[i]}" in the dataset` +
          `${differ.length > 1 ? ` (${differ.length} of ${names.length} classes differ)` : ''}; ` +
          `its predictions are read as the dataset's classes by position${trained ? ` (it was trained on ${trained})` : ''}.`,
      ];
    }
    return [];
  }
  if (trained && kindOf(trained) !== kindOf(data.id))
    return [
      `the model was trained on ${trained}, not on a dataset of this kind (${data.id}); its predictions are read as the dataset's classes by position.`,
    ];
  return [];
}
