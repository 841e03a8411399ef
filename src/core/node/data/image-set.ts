// The one allocation of a decoded image set (count RGB images of size x size, 8 bits), and
// the rule that keeps a dataset load within this machine's memory: training needs the rest
// (batches, the engine and its workers), so the images one load holds at once (both splits,
// the copies a folder's split or a combination makes, a cache read) may take at most a share
// of the installed memory. Checked before anything is decoded, so a dataset too large for
// the machine gets a message instead of the out-of-memory killer halfway through.
import { AsyncLocalStorage } from 'node:async_hooks';
import os from 'node:os';
import { UserError } from '../../common/errors.ts';

/** The share of installed memory the image sets of one dataset load may take together. */
export const IMAGE_SET_MEMORY_SHARE = 0.4;

const amount = (bytes: number) =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The bytes of image sets the load in progress has allocated so far. */
const load = new AsyncLocalStorage<{ bytes: number }>();

/**
 * Runs one dataset load: every image set it allocates, in every part of it, counts against
 * one share of memory. A load inside a load (a combined dataset's parts) shares the outer one.
 */
export function withLoadBudget<T>(work: () => Promise<T>): Promise<T> {
  return load.getStore() ? work() : load.run({ bytes: 0 }, work);
}

/**
 * Refuses `count` images of `what` at size x size (`channels` bytes a pixel) when they, with
 * what this load already holds, would take more than the share of memory: called before
 * anything is read or allocated. Returns their bytes (not yet counted against the load).
 */
export function checkImageSet(count: number, size: number, what: string, channels = 3): number {
  const bytes = count * size * size * channels;
  const before = load.getStore()?.bytes ?? 0;
  const installed = os.totalmem();
  if (before + bytes > installed * IMAGE_SET_MEMORY_SHARE)
    throw new UserError(
      `${what} holds ${count} images: ${channels === 3 ? 'decoded' : 'read'} at ${size}x${size} they take ${amount(bytes)}` +
        (before > 0 ? `, on top of the ${amount(before)} this dataset's other images already take` : '') +
        `, more than ${IMAGE_SET_MEMORY_SHARE * 100}% of this machine's ${amount(installed)} of memory (training needs the rest).`,
      'Use a smaller input size, a smaller dataset or split (EMNIST balanced instead of byclass, say), or a machine with more memory.',
      'dataset-too-large',
    );
  return bytes;
}

/** A zeroed buffer for `count` images of `what` at size x size, counted against the load. */
export function imageSetBuffer(count: number, size: number, what: string): Uint8Array {
  const bytes = checkImageSet(count, size, what);
  const budget = load.getStore();
  if (budget) budget.bytes += bytes;
  return new Uint8Array(bytes);
}
