// Bringing your own model: an ONNX file imported into a model folder, judged on one of the
// app's datasets (the dataset read at the model's input size).
import type { DecomposerApi, ImportedModelView, ImportModelParams } from '../../common/api.ts';
import { resolveDataset } from '../data/catalogue.ts';
import { datasetAtSize, importModel } from '../workflows/import-model.ts';
import { guard, type AppContext } from './context.ts';

export function modelHandlers(ctx: AppContext): Pick<DecomposerApi, 'importModel'> {
  return {
    async importModel(params: ImportModelParams): Promise<ImportedModelView> {
      guard('importModel', [params]);
      // An unknown dataset is refused before the file is read.
      const spec = await resolveDataset(ctx.home, params.dataset);
      return importModel(
        { ...params, dataset: (size, fit) => datasetAtSize(spec, size, fit) },
        { home: ctx.home },
      );
    },
  };
}
