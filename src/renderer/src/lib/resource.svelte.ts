// What a page shows, loaded the same way on every page: when the page opens and again
// whenever `reloadOn` reads something new (a job finished, another id was opened). The last
// failure is kept for the page to show (null once a load succeeds), and a load overtaken by a
// newer one is dropped, so a slow answer never replaces a newer one.
import { untrack } from 'svelte';
import { describeError } from '../../../core/common/errors.ts';

export interface Resource {
  /** The last load's failure, said for the user; null when it loaded. */
  readonly error: string | null;
  readonly loading: boolean;
  /** Loads again now (after the page changed something). */
  reload(): Promise<void>;
}

export function useResource<T>(
  load: () => Promise<T>,
  apply: (value: T) => void,
  reloadOn: () => unknown = () => undefined,
): Resource {
  let error = $state<string | null>(null);
  let loading = $state(false);
  let latest = 0;

  async function reload(): Promise<void> {
    const mine = ++latest;
    loading = true;
    try {
      const value = await load();
      if (mine !== latest) return;
      apply(value);
      error = null;
    } catch (e) {
      if (mine === latest) error = describeError(e);
    } finally {
      if (mine === latest) loading = false;
    }
  }

  $effect(() => {
    reloadOn();
    untrack(() => void reload());
  });

  return {
    get error() {
      return error;
    },
    get loading() {
      return loading;
    },
    reload,
  };
}
