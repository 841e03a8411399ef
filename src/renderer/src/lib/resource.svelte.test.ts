// The pages' one way of loading what they show: the last failure is said and cleared by the
// next success, and an answer overtaken by a newer request never replaces the newer one.
import { flushSync } from 'svelte';
import { describe, expect, test } from 'vitest';
import { useResource } from './resource.svelte.ts';

/** A load whose answers the test releases one by one. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('useResource', () => {
  test('loads when created and again when what it watches changes; a stale answer is dropped', async () => {
    const pending: ReturnType<typeof deferred<string>>[] = [];
    let shown: string | null = null;
    let id = $state(1);
    let res!: ReturnType<typeof useResource>;
    const stop = $effect.root(() => {
      res = useResource(
        () => {
          const d = deferred<string>();
          pending.push(d);
          return d.promise;
        },
        (v) => (shown = v),
        () => id,
      );
    });
    flushSync();
    expect(pending.length).toBe(1);
    id = 2; // another item opened before the first answer came
    flushSync();
    expect(pending.length).toBe(2);
    pending[1]!.resolve('second');
    await settle();
    expect(shown).toBe('second');
    pending[0]!.resolve('first'); // the slow, older answer arrives last
    await settle();
    expect(shown).toBe('second');
    expect(res.error).toBeNull();
    stop();
  });

  test('a failure is kept to show, and the next success clears it', async () => {
    let fail = true;
    let shown: number | null = null;
    let res!: ReturnType<typeof useResource>;
    const stop = $effect.root(() => {
      res = useResource(
        async () => {
          if (fail) throw new Error('the store is busy');
          return 7;
        },
        (v) => (shown = v),
      );
    });
    flushSync();
    await settle();
    expect(res.error).toMatch(/the store is busy/);
    expect(shown).toBeNull();
    fail = false;
    await res.reload();
    expect(res.error).toBeNull();
    expect(shown).toBe(7);
    stop();
  });
});
