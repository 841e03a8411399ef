// The bounds of every number a person gives Decomposer, written once: the CLI's options, the
// API's argument checks and the stored settings all check with these (DESIGN: Boundaries).
// A bound is a valibot schema and its rule in words; numbers given as text (a flag, an
// environment variable) are read as plain decimals only, so "0x10" or "1e12" never become
// 16 epochs or a trillion.
import { RESNET_DEPTH, RESNET_DEPTH_RULE, isResNetDepth } from './rules.ts';
import { v } from './schema.ts';

export interface Bound {
  /** A number within the bound; a refusal says the whole rule ("must be a whole number from 1 to 1000"). */
  readonly schema: v.GenericSchema<number>;
  /**
   * The same bound for a value that may come as text (a flag, an environment variable, a
   * stored setting): a number, or a plain decimal written out, read as the number.
   */
  readonly text: v.GenericSchema<unknown, number>;
  /** The rule in words, to follow "must be": "a whole number from 1 to 1000". */
  readonly rule: string;
  /** The range alone, for help texts: "1 to 1000". */
  readonly range: string;
  /** The ends, for a form's min and max. */
  readonly min: number;
  readonly max: number;
  readonly whole: boolean;
}

const shown = (x: number) => (Math.abs(x) >= 1e4 ? x.toLocaleString('en-US') : String(x));

const WHOLE_TEXT = /^[+-]?\d+$/;
const REAL_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

/** A bound from its test and its rule; `range` defaults to the ends. */
function bound(
  min: number,
  max: number,
  whole: boolean,
  ok: (x: number) => boolean,
  rule: string,
  range = `${shown(min)} to ${shown(max)}`,
): Bound {
  const fits = (x: unknown): x is number => typeof x === 'number' && ok(x);
  // Number() alone would take "0x10", "1e12" for a whole number, " " or "".
  const fromText = (x: unknown): unknown => {
    if (typeof x !== 'string') return x;
    const t = x.trim();
    return (whole ? WHOLE_TEXT : REAL_TEXT).test(t) ? Number(t) : x;
  };
  const message = `must be ${rule}`;
  return {
    schema: v.custom<number>(fits, message),
    text: v.pipe(
      v.custom<number | string>((x) => fits(fromText(x)), message),
      v.transform((x) => fromText(x) as number),
    ),
    rule,
    range,
    min,
    max,
    whole,
  };
}

const whole = (min: number, max: number): Bound =>
  bound(
    min,
    max,
    true,
    (x) => Number.isInteger(x) && x >= min && x <= max,
    `a whole number from ${shown(min)} to ${shown(max)}`,
  );

const real = (min: number, max: number): Bound =>
  bound(
    min,
    max,
    false,
    (x) => Number.isFinite(x) && x >= min && x <= max,
    `a number from ${shown(min)} to ${shown(max)}`,
  );

/** Epochs of any training (the API always capped them at 1000). */
export const EPOCHS = whole(1, 1000);
/** Epochs a baseline waits for its validation accuracy to improve. */
export const PATIENCE = whole(1, 1000);
export const DEPTH: Bound = bound(
  RESNET_DEPTH.min,
  RESNET_DEPTH.max,
  true,
  isResNetDepth,
  RESNET_DEPTH_RULE,
  RESNET_DEPTH_RULE,
);
export const SEED = whole(0, 2 ** 31 - 1);
export const BATCH_SIZE = whole(1, 4096);
/** Embedded datasets generated with fewer training images per class (the demo, the app). */
export const TRAIN_PER_CLASS = whole(2, 100_000);
/** The wizard's faulty demo: enough images per class to corrupt a fraction of them. */
export const FAULTY_PER_CLASS = whole(4, 100_000);
/** Images per class sampled to decompose, reuse or replace. */
export const SAMPLE_PER_CLASS = whole(1, 100_000);
/** Unconcerned images per module (0: none). */
export const UNCONCERNED = whole(0, 100_000);
/** A class index (the class count of the model or dataset bounds it further). */
export const CLASS_INDEX = whole(0, 99_999);
export const LEARNING_RATE = real(1e-6, 1);
/** The share of the training set kept for validation (0: none). */
export const VAL_FRACTION = real(0, 0.5);
/** MC-BLN's threshold δ on the head's weights. */
export const DELTA = real(0, 1000);
/** An imported model's preprocessing, per channel after scaling pixels to 0..1 (--mean, --std). */
export const MEAN_VALUE = real(-1000, 1000);
export const STD_VALUE = real(1e-6, 1000);
/** The share of a class's training labels the faulty demo corrupts. */
export const FAULT_FRACTION = real(0.05, 1);

/**
 * The largest side of a model's input and of the images a dataset is decoded to. One
 * 1024x1024 RGB image is 3 MiB as bytes and 12 MiB as floats; beyond that a ResNet's
 * activations alone outgrow a workstation, and no dataset we read is larger.
 */
export const MAX_IMAGE_SIDE = 1024;
/** The side images are decoded to (--size). */
export const IMAGE_SIDE = whole(8, MAX_IMAGE_SIDE);
/** Each side of a model's input (any model read: ours, or one given to us). */
export const INPUT_SIDE = whole(1, MAX_IMAGE_SIDE);
/** A model input's channels (grey, RGB, RGBA; Decomposer itself feeds RGB). */
export const INPUT_CHANNELS = whole(1, 4);

/** A task of a grid's plan (its index in a Slurm array or an Indexed Job), and how many run at once. */
export const TASK_INDEX = whole(0, 1_000_000);
export const MAX_PARALLEL = whole(1, 100_000);
/** What a cluster task asks of a node: CPUs, GPUs. */
export const CPUS_PER_TASK = whole(1, 4096);
export const GPUS_PER_TASK = whole(1, 64);
/** How long a task waits for another's output (a day at most), s. */
export const WAIT_SECONDS = whole(0, 86_400);

/** Idle power is measured for at most an hour before a run (0 skips it). */
export const IDLE_SECONDS = real(0, 3600);
export const SAMPLE_INTERVAL_MS = real(10, 60_000);
/**
 * Power usage effectiveness: 1 is a machine with no overhead; surveyed data centres average
 * about 1.6 and the least efficient stay under 3, so 5 leaves room and catches typos.
 */
export const PUE = real(1, 5);
/** Carbon intensity in lbs CO2e per kWh: the most carbon-intensive grids are near 2.5. */
export const INTENSITY = real(0, 10);

/**
 * Engine worker threads: 0 (one engine in this thread) up to four per core. Each worker is a
 * thread with an engine of its own, so more than that only costs memory.
 */
export function workersBound(cores: number): Bound {
  return whole(0, Math.max(4, 4 * Math.max(1, Math.floor(cores))));
}
/** The most workers any machine is allowed (the shape an API call is checked against). */
export const WORKERS_CEILING = 1024;
/** Engine workers as any call may ask for them (the machine's own bound is workersBound). */
export const WORKERS = whole(0, WORKERS_CEILING);

export const PORT = whole(0, 65_535);
export const TOP_K = whole(1, 1000);
export const ROW_LIMIT = whole(1, 1_000_000);
/** How long `energy check` measures, in seconds. */
export const CHECK_SECONDS = real(1, 3600);
/** A bench figure's time budget (0: the fewest runs that measure at all). */
export const BENCH_SECONDS = real(0, 3600);
/** Grids: classes picked per reuse scenario, and scenarios per scope. */
export const GRID_PICK = whole(2, 1000);
export const GRID_PAIRS = whole(1, 1000);
/** Images per class in the Datasets page's preview. */
export const PREVIEW_PER_CLASS = whole(1, 16);
/** Row ids of the store (runs, experiments). */
export const ROW_ID = bound(
  1,
  Number.MAX_SAFE_INTEGER,
  true,
  (x) => Number.isSafeInteger(x) && x >= 1,
  'a positive whole number',
);

/** Whether `x` is within `b`. */
export const within = (b: Bound, x: unknown): x is number => v.is(b.schema, x);

/** A number given as text, read as a plain decimal within the bound; else null. */
export function parseBounded(text: string, b: Bound): number | null {
  const r = v.safeParse(b.text, text);
  return r.success ? r.output : null;
}
