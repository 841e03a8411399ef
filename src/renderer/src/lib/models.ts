// How a model is named in the app: a trained one by its run ("#3 ResNet-20"), an imported one by
// its file ("resnet18.onnx (imported)").
import type { ModelSummary } from '../../../core/common/api.ts';

/** The model in a word or two: "model #3", "resnet18.onnx (imported)". */
export const modelTag = (m: ModelSummary): string =>
  m.source ? `${m.source.file} (imported)` : `model #${m.runId}`;

/** The model and its architecture: "#3 ResNet-20", "resnet18.onnx (imported)". */
export const modelWhat = (m: ModelSummary): string =>
  m.source ? `${m.source.file} (imported)` : `#${m.runId} ResNet-${m.depth ?? '?'}`;

/** The model with its architecture, dataset and accuracy, for pickers. */
export function modelName(m: ModelSummary, pct: (x: number | null | undefined) => string): string {
  return `${modelWhat(m)} on ${m.dataset}${m.top1 != null ? `, top-1 ${pct(m.top1)}` : ''}`;
}

/** Where an imported model came from, in one line. */
export function provenance(m: ModelSummary): string | null {
  const s = m.source;
  if (!s) return null;
  const bn = {
    present: 'batch norm kept',
    folded: 'batch norm folded by the exporter',
    none: 'no batch norm',
  }[s.batchNorm];
  const format = s.opset === null ? 'tfjs-layers' : `opset ${s.opset}`;
  return `${s.file} from ${s.producer.name} ${s.producer.version}, ${format}, ${s.layout.toUpperCase()}, ${bn}; sha256 ${s.sha256.slice(0, 12)}…, imported ${s.importedAt.slice(0, 10)}`;
}
