// The arithmetic of synchronous data parallelism (pool.ts): the authoritative weights in one
// shared buffer every worker reads, a gradient buffer per worker, a batch split into
// contiguous shares, the shares' gradients of their mean loss combined into the whole batch's,
// and many images spread over the workers in chunks for prediction.
import { augmentPart } from './augment.ts';
import type { Augment, BatchResult } from './training-engine.ts';

export interface SharedBuffers {
  /** The pool's weights, a view of `weightsBuffer`. */
  weights: Float32Array<SharedArrayBuffer>;
  weightsBuffer: SharedArrayBuffer;
  /**
   * The whole batch's gradients, combined from the workers' (shared, so workers can combine
   * them slice by slice), a view of `gradsBuffer`.
   */
  grads: Float32Array<SharedArrayBuffer>;
  gradsBuffer: SharedArrayBuffer;
  /** One per worker: the gradients of its share. */
  gradBuffers: SharedArrayBuffer[];
}

/** Shared weights (a copy of `weightData`), the combined gradients and a gradient buffer for each of `workers`. */
export function sharedBuffers(weightData: ArrayBuffer, workers: number): SharedBuffers {
  const floats = weightData.byteLength / 4;
  const weightsBuffer = new SharedArrayBuffer(floats * 4);
  const weights = new Float32Array(weightsBuffer);
  weights.set(new Float32Array(weightData));
  const gradBuffers = Array.from({ length: workers }, () => new SharedArrayBuffer(floats * 4));
  const gradsBuffer = new SharedArrayBuffer(floats * 4);
  return {
    weights,
    weightsBuffer,
    grads: new Float32Array(gradsBuffer),
    gradsBuffer,
    gradBuffers,
  };
}

/** Contiguous shares [a, b) of a batch of `count`, one per worker, at most `workers`. */
export function shares(count: number, workers: number): { a: number; b: number }[] {
  const n = Math.min(workers, count);
  const per = Math.ceil(count / n);
  const out: { a: number; b: number }[] = [];
  for (let a = 0; a < count; a += per) out.push({ a, b: Math.min(count, a + per) });
  return out;
}

/** Each share's weight in the whole batch's mean: its size over the batch's. */
export function shareWeights(parts: { a: number; b: number }[]): number[] {
  const count = parts.at(-1)!.b;
  return parts.map((p) => (p.b - p.a) / count);
}

/** Slots a..b of the whole batch's gradient: the shares' gradients (`views`) weighted. */
export function combineRange(
  grads: Float32Array,
  views: Float32Array[],
  weights: number[],
  a: number,
  b: number,
): void {
  const first = views[0]!;
  const w0 = weights[0]!;
  for (let i = a; i < b; i++) grads[i] = first[i]! * w0;
  for (let k = 1; k < weights.length; k++) {
    const v = views[k]!;
    const wk = weights[k]!;
    for (let i = a; i < b; i++) grads[i] += v[i]! * wk;
  }
}

/** The whole batch's loss (the shares' means weighted by size) and hits. */
export function batchResult(
  parts: { a: number; b: number }[],
  results: { loss: number; correct: number }[],
): BatchResult {
  const count = parts.at(-1)!.b;
  let loss = 0;
  let correct = 0;
  results.forEach((r, k) => {
    loss += r.loss * (parts[k]!.b - parts[k]!.a);
    correct += r.correct;
  });
  return { loss: loss / count, correct, count };
}

/** A worker's share of a batch, copied to be posted to its thread. */
export interface BatchShare {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  aug: Augment | null;
}

/** A batch split into contiguous shares (`parts`), at most one per worker, each a copy. */
export function batchShares(
  images: Uint8Array,
  labels: Int32Array,
  count: number,
  aug: Augment | null,
  imageBytes: number,
  workers: number,
): { parts: { a: number; b: number }[]; copies: BatchShare[] } {
  const parts = shares(count, workers);
  const copies = parts.map(({ a, b }) => ({
    images: images.slice(a * imageBytes, b * imageBytes),
    labels: labels.slice(a, b),
    count: b - a,
    aug: augmentPart(aug, a, b, true),
  }));
  return { parts, copies };
}

/**
 * Class probabilities of `count` images, in chunks of `chunk` spread over `workers`: each
 * worker takes the next chunk as soon as it is free; `run` predicts one chunk (a copy of its
 * images) and returns its probabilities.
 */
export async function predictInChunks<W>(
  workers: readonly W[],
  images: Uint8Array,
  count: number,
  imageBytes: number,
  classes: number,
  chunk: number,
  run: (worker: W, images: Uint8Array, count: number) => Promise<Float32Array>,
): Promise<Float32Array> {
  const out = new Float32Array(count * classes);
  let next = 0;
  await Promise.all(
    workers.map(async (w) => {
      while (next < count) {
        const a = next;
        const b = Math.min(count, a + chunk);
        next = b;
        out.set(await run(w, images.slice(a * imageBytes, b * imageBytes), b - a), a * classes);
      }
    }),
  );
  return out;
}
