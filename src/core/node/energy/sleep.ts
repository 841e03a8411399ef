// Waiting in steps a timer can hold.

/** The longest delay setTimeout keeps: beyond it (about 24.8 days) a timer fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Waits `ms`, in steps a timer can hold, so a long wait is never cut to 1 ms. */
export async function sleep(ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= MAX_TIMER_MS)
    await new Promise((r) => setTimeout(r, Math.min(left, MAX_TIMER_MS)));
}
