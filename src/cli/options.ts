// The options several commands share, parsed in one place with their schemas: numbers within
// their bounds (core/common/bounds.ts, the same the API and the settings use), the engine
// (backend, device, workers, data folder, with their environment variables), the run store
// and the energy settings; and the context every measured run of a command is recorded in.
import type { BackendName } from '../core/common/api.ts';
import { BACKEND_CHOICE } from '../core/common/system.ts';
import { INFERENCE_ENGINES } from '../core/common/decomposition.ts';
import { IDLE_SECONDS } from '../core/common/bounds.ts';
import { PATH, v } from '../core/common/schema.ts';
import { STORED_SETTINGS } from '../core/common/settings.ts';
import type { Attribution } from '../core/common/energy.ts';
import {
  setDefaultTrainingDevice,
  TRAINING_DEVICES,
  workersHere,
  type TrainingDevice,
} from '../core/node/engine/training.ts';
import { setDefaultInferenceEngine } from '../core/node/inference/index.ts';
import type { MeasureContext } from '../core/node/measure/measured.ts';
import { dataHome } from '../core/node/paths.ts';
import { effectiveSettings } from '../core/node/store/settings.ts';
import { defaultDbFile, Store } from '../core/node/store/store.ts';
import { COMMON_ARGS, type CommandArgs } from './command.ts';
import { info } from './output.ts';
import { trainReporter } from './training.ts';

export const ENGINE_OPTIONS = {
  backend: { type: 'string' },
  device: { type: 'string' },
  workers: { type: 'string' },
  home: { type: 'string' },
} as const;

export const ENGINE_USAGE = `  --backend NAME      auto (default) | onnxruntime | tensorflow | wasm | cpu  (also DECOMPOSER_BACKEND)
  --device NAME       onnxruntime's device: cpu (default) | gpu | auto (GPU where its
                      provider starts, else CPU with the reason; also DECOMPOSER_DEVICE)
  --workers N         engine worker threads (default: one per core; 0 = none; at most 4 per core)
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)
  --json              print one JSON object as the result
  -h, --help          this help`;

/** Energy and store options of every command that runs work. */
export const ENERGY_OPTIONS = {
  'idle-seconds': { type: 'string' },
  attribution: { type: 'string' },
  db: { type: 'string' },
} as const;

export const ENERGY_USAGE = `  --idle-seconds N    measure idle power for N s (${IDLE_SECONDS.range}) before the run and subtract
                      it (default 10, a setting; 0 skips it, with a warning)
  --attribution MODE  process (default, a setting): the run's share of the machine's power
                      above idle, by its share of busy CPU time (and of each GPU), so other
                      work on the machine neither inflates nor zeroes it; machine: the whole
                      machine's power minus idle (for a machine that runs nothing else)
  --db FILE           the run database (default <home>/decomposer.db)`;

/** The run store's options, for commands that only read it. */
export const DB_OPTIONS = {
  db: { type: 'string' },
  home: { type: 'string' },
} as const;

export const DB_USAGE = `  --db FILE           the run database (default <home>/decomposer.db)
  --home DIR          data folder (default ~/.decomposer, or DECOMPOSER_HOME)`;

/** A list given as one option, comma-separated (--classes 0,3,7), each item checked with `item`. */
export const listOf = <S extends v.GenericSchema>(item: S): v.GenericSchema<string, v.InferOutput<S>[]> =>
  // The items are checked by `item` (whatever its input type), after the split.
  v.pipe(
    v.string(),
    v.transform((s): unknown[] => s.split(',').map((x) => x.trim())),
    v.array(v.unknown()),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const out: v.InferOutput<S>[] = [];
      for (const [i, x] of dataset.value.entries()) {
        const r = v.safeParse(item, x);
        if (r.success) out.push(r.output);
        else
          for (const issue of r.issues)
            addIssue({
              message: issue.message,
              input: x,
              path: [{ type: 'array', origin: 'value', input: dataset.value, key: i, value: x }],
            });
      }
      return out.length === dataset.value.length ? out : NEVER;
    }),
  );

const DEVICE = v.picklist(TRAINING_DEVICES, `must be ${TRAINING_DEVICES.join(', ')}`);
/** --inference: which engine runs forward passes (auto: the fastest that loads). */
export const INFERENCE_ARG = v.optional(
  v.picklist(INFERENCE_ENGINES, `must be ${INFERENCE_ENGINES.join(', ')}`),
  'auto',
);

/** The data folder: --home, else DECOMPOSER_HOME, else ~/.decomposer. */
export const HOME_ARGS = { home: v.optional(PATH), DECOMPOSER_HOME: v.optional(PATH) };
export const dataHomeOf = (o: { home?: string; DECOMPOSER_HOME?: string }) =>
  dataHome(o.home ?? o.DECOMPOSER_HOME);

/** The training engine a command asks for, and the data folder (the device is the process's: processDefaults). */
export interface EngineSettings {
  backend: BackendName | null;
  workers: number | undefined;
  home: string;
}

/** The run store (--db, else the data folder's), and --idle-seconds and --attribution over the stored settings. */
export interface StoreChoice {
  dbFile: string;
  idleSeconds: number | undefined;
  attribution?: Attribution | undefined;
}

export const ENGINE_ARGS = {
  ...COMMON_ARGS,
  backend: v.optional(BACKEND_CHOICE),
  DECOMPOSER_BACKEND: v.optional(BACKEND_CHOICE),
  workers: v.optional(workersHere().text),
  ...HOME_ARGS,
  // An override of the setting, checked with the setting's schema.
  'idle-seconds': v.optional(STORED_SETTINGS.idleSeconds),
  attribution: v.optional(STORED_SETTINGS.attribution),
  db: v.optional(PATH),
};

const ENGINE_OBJECT = v.object(ENGINE_ARGS);
type EngineInput = v.InferOutput<typeof ENGINE_OBJECT>;

export interface EngineArgs extends CommandArgs {
  engine: EngineSettings;
  store: StoreChoice;
}

/** The engine, the store and --json of options parsed with ENGINE_ARGS. */
export function engineArgs(o: EngineInput): EngineArgs {
  const backend = o.backend ?? o.DECOMPOSER_BACKEND ?? 'auto';
  const home = dataHomeOf(o);
  return {
    json: o.json,
    engine: {
      backend: backend === 'auto' ? null : backend,
      workers: o.workers,
      home,
    },
    store: {
      dbFile: o.db ?? defaultDbFile(home),
      idleSeconds: o['idle-seconds'],
      attribution: o.attribution,
    },
  };
}

/** A command's schema: the engine's options and its own, parsed into `build`'s parameters. */
export function withEngine<E extends v.ObjectEntries, T>(
  entries: E,
  build: (o: v.InferOutput<v.ObjectSchema<E & typeof ENGINE_ARGS, undefined>>, e: EngineArgs) => T,
) {
  return v.pipe(
    v.object({ ...ENGINE_ARGS, ...entries }),
    v.transform((o) => {
      // The engine's part of the options, already checked: read back with its own schema.
      const e = engineArgs(v.parse(ENGINE_OBJECT, o));
      return { ...e, ...build(o, e) };
    }),
  );
}

export const DB_ARGS = { ...COMMON_ARGS, db: v.optional(PATH), ...HOME_ARGS };

/** The run database of options parsed with DB_ARGS: --db, else the data folder's. */
export const dbFileOf = (o: { db?: string; home?: string; DECOMPOSER_HOME?: string }) =>
  o.db ?? defaultDbFile(dataHomeOf(o));

/**
 * Runs `work` with the run store and the settings in force (--idle-seconds, --attribution over the stored
 * ones), as the context its measured runs are recorded in. The recorder's lines and every
 * training's progress go to stderr in every mode.
 */
export async function withMeasureContext<T>(
  s: StoreChoice,
  o: { signal?: AbortSignal },
  work: (ctx: MeasureContext) => Promise<T>,
): Promise<T> {
  const store = Store.open(s.dbFile);
  try {
    const settings = effectiveSettings(store.settings, {
      idleSeconds: s.idleSeconds,
      attribution: s.attribution,
    });
    return await work({ store, settings, signal: o.signal, onInfo: info, onTraining: trainReporter() });
  } finally {
    store.close();
  }
}

/** The process-wide choices: onnxruntime's training device and the engine `auto` inference uses. */
export interface ProcessDefaults {
  device: TrainingDevice | null;
  inference: 'onnxruntime' | 'tfjs' | null;
}

/**
 * What holds for the whole process, parsed like any option: the engine an `auto` inference
 * request uses (DECOMPOSER_INFERENCE) and onnxruntime's training device (--device where the
 * command takes it, else DECOMPOSER_DEVICE).
 */
export const PROCESS_DEFAULTS: v.GenericSchema<unknown, ProcessDefaults> = v.pipe(
  v.object({
    DECOMPOSER_INFERENCE: v.optional(
      v.picklist(INFERENCE_ENGINES, `must be ${INFERENCE_ENGINES.join(', ')}`),
      'auto',
    ),
    device: v.optional(DEVICE),
    DECOMPOSER_DEVICE: v.optional(DEVICE),
  }),
  v.transform((o) => ({
    device: o.device ?? o.DECOMPOSER_DEVICE ?? null,
    inference: o.DECOMPOSER_INFERENCE === 'auto' ? null : o.DECOMPOSER_INFERENCE,
  })),
);

/** Tells the core the process-wide choices, once, at the start of a command. */
export function useProcessDefaults(d: ProcessDefaults): void {
  setDefaultTrainingDevice(d.device);
  setDefaultInferenceEngine(d.inference);
}
