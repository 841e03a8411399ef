// Opens a model for inference on the fastest engine that loads: onnxruntime-node (native,
// multi-threaded) when it loads, else tfjs on the active tfjs backend. An engine can be
// forced (option, or the process default a shell sets from DECOMPOSER_INFERENCE=onnxruntime|
// tfjs|auto); the report says which engine is active and why the other is not, like backend.ts's.
import os from 'node:os';
import type { BackendName } from '../../common/api.ts';
import { firstLine, UserError } from '../../common/errors.ts';
import { backendReport, initBackend } from '../graph/backend.ts';
import { pixelChannels } from '../graph/inputs.ts';
import { loadOrt, ortFailure } from '../graph/ort.ts';
import { planModel, type ModelPlan } from '../graph/plan.ts';
import {
  DEFAULT_PREPROCESS,
  readModelDir,
  tfjsRefusal,
  type ModelArtifacts,
  type Preprocess,
} from '../models/io.ts';
import { OrtInference } from './ort-engine.ts';
import { TfjsInference } from './tfjs-engine.ts';
import {
  INFERENCE_PREFERENCE,
  type InferenceEngine,
  type InferenceEngineName,
  type InferenceLayout,
  type InferenceReport,
  type InferenceStatus,
} from './types.ts';

export * from './types.ts';
export { convertToOnnx, type ConvertOptions } from './convert.ts';
export { TfjsInference } from './tfjs-engine.ts';
export {
  OrtInference,
  cachedSessionCount,
  FOLD_MIN_LAYER_IMAGES,
  foldPays,
  sparedLayers,
} from './ort-engine.ts';

export interface InferenceOptions {
  /** 'auto' (default): onnxruntime when it loads, else tfjs. */
  engine?: 'auto' | InferenceEngineName;
  /** onnxruntime intra-op threads; default: every core. */
  threads?: number;
  /** Images per run; default 128. */
  batchSize?: number;
  /** Preprocessing when artifacts are given (a model folder brings its own). */
  preprocess?: Preprocess;
  /** tfjs backend for the tfjs engine when none is active yet (default: the fastest). */
  tfjsBackend?: BackendName | null;
}

export const DEFAULT_INFERENCE_BATCH = 128;

export function defaultInferenceThreads(): number {
  return Math.max(1, os.availableParallelism());
}

export function parseInferenceEngine(value: string | undefined | null): InferenceEngineName | null {
  if (value === undefined || value === null || value === '' || value === 'auto') return null;
  if ((INFERENCE_PREFERENCE as readonly string[]).includes(value)) return value as InferenceEngineName;
  throw new UserError(
    `Unknown inference engine "${value}".`,
    `Use one of: auto, ${INFERENCE_PREFERENCE.join(', ')}.`,
    'bad-engine',
  );
}

/** What `auto` forces in this process, if anything: the shells pass DECOMPOSER_INFERENCE here. */
let processDefault: InferenceEngineName | null = null;

/** Sets the engine an `auto` request uses in this process (null: the fastest that loads). */
export function setDefaultInferenceEngine(name: InferenceEngineName | null): void {
  processDefault = name;
}

function layoutOf(plan: ModelPlan, preprocess: Preprocess): InferenceLayout {
  const [h, w, c] = plan.input.shape as [number, number, number];
  return {
    inputShape: [h, w, pixelChannels(c)],
    classes: plan.classes,
    preprocess,
    maskable: plan.maskable,
    observed: plan.observed,
  };
}

/**
 * Opens a model (a model folder / model.json path, or artifacts in memory) for inference.
 * Throws UserError for layers the engines cannot run, naming the layer.
 */
export async function openInference(
  source: string | ModelArtifacts,
  opts: InferenceOptions = {},
): Promise<InferenceEngine> {
  let artifacts: ModelArtifacts;
  let preprocess = opts.preprocess ?? DEFAULT_PREPROCESS;
  if (typeof source === 'string') {
    const read = await readModelDir(source);
    artifacts = read.artifacts;
    preprocess = opts.preprocess ?? read.meta?.preprocess ?? DEFAULT_PREPROCESS;
  } else artifacts = source;
  const plan = planModel(artifacts);
  const layout = layoutOf(plan, preprocess);

  const forced = opts.engine && opts.engine !== 'auto' ? parseInferenceEngine(opts.engine) : processDefault;
  const threads = Math.max(1, Math.floor(opts.threads ?? defaultInferenceThreads()));
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_INFERENCE_BATCH));
  const candidates: InferenceStatus[] = [];
  const report = (active: InferenceEngineName): InferenceReport => {
    const all = INFERENCE_PREFERENCE.map(
      (name): InferenceStatus =>
        candidates.find((c) => c.name === name) ?? {
          name,
          ok: false,
          reason: forced ? `not tried: ${forced} was forced` : `not needed: ${active} is faster`,
        },
    );
    return { active, forced, candidates: all, threads, batchSize };
  };

  // A stored plan (an imported model) runs on onnxruntime only: forcing tfjs is refused by name.
  if (forced === 'tfjs' && plan.format === 'plan') throw tfjsRefusal();
  const order = forced ? [forced] : INFERENCE_PREFERENCE;
  for (const name of order) {
    if (name === 'onnxruntime') {
      try {
        const ort = await loadOrt();
        candidates.push({ name, ok: true });
        return await OrtInference.open(ort, plan, layout, report(name));
      } catch (e) {
        const ok = candidates.find((c) => c.name === name);
        const reason = ortFailure(e);
        if (ok) Object.assign(ok, { ok: false, reason });
        else candidates.push({ name, ok: false, reason });
      }
    } else {
      try {
        const backend = backendReport() ?? (await initBackend(opts.tfjsBackend ?? null));
        candidates.push({ name, ok: true });
        const r = { ...report(name), tfjsBackend: backend.active };
        return new TfjsInference(plan, layout, r);
      } catch (e) {
        candidates.push({ name, ok: false, reason: firstLine(e) });
      }
    }
  }
  const why = candidates.map((c) => `${c.name}: ${c.reason}`).join('; ');
  throw new UserError(
    `No inference engine could start (${why}).`,
    forced ? 'Choose another engine with --inference auto.' : 'Reinstall the app.',
    'no-inference',
  );
}

/** One line for people: "onnxruntime (4 threads, batch 128)" or "tfjs/wasm — onnxruntime: ...". */
export function describeInference(r: InferenceReport): string {
  const others = r.candidates.filter(
    (c) => c.name !== r.active && !c.ok && !c.reason?.startsWith('not needed'),
  );
  const why = others.map((c) => `${c.name}: ${c.reason}`).join('; ');
  const what =
    r.active === 'onnxruntime'
      ? `onnxruntime (${r.threads} threads, batch ${r.batchSize})`
      : `tfjs/${r.tfjsBackend}`;
  return `${what}${r.forced ? ' (forced)' : ''}${why ? ` — ${why}` : ''}`;
}
