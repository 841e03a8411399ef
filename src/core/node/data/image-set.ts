// The one allocation of a decoded image set (count RGB images of size x size, 8 bits), and
// the rule that keeps it within this machine's memory: training needs the rest (the other
// split, batches, the engine and its workers), so one set may take at most a share of the
// installed memory. Checked before anything is decoded, so a dataset too large for the
// machine gets a message instead of the out-of-memory killer halfway through.
import os from 'node:os';
import { UserError } from '../../common/errors.ts';

/** The share of installed memory one decoded image set may take. */
export const IMAGE_SET_MEMORY_SHARE = 0.4;

const amount = (bytes: number) =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * Refuses `count` images of `what` at size x size (`channels` bytes a pixel) when they would
 * take more than the share of memory: called before anything is read or allocated.
 */
export function checkImageSet(count: number, size: number, what: string, channels = 3): number {
  const bytes = count * size * size * channels;
  const installed = os.totalmem();
  if (bytes > installed * IMAGE_SET_MEMORY_SHARE)
    throw new UserError(
      `${what} holds ${count} images: ${channels === 3 ? 'decoded' : 'read'} at ${size}x${size} they take ${amount(bytes)}, ` +
        `more than ${IMAGE_SET_MEMORY_SHARE * 100}% of this machine's ${amount(installed)} of memory (training needs the rest).`,
      'Use a smaller input size, a smaller dataset or split (EMNIST balanced instead of byclass, say), or a machine with more memory.',
      'dataset-too-large',
    );
  return bytes;
}

/** A zeroed buffer for `count` images of `what` at size x size, or one UserError when too large. */
export function imageSetBuffer(count: number, size: number, what: string): Uint8Array {
  return new Uint8Array(checkImageSet(count, size, what));
}
