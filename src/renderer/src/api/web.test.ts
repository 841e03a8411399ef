// The web shell's token: taken from the URL the server printed, then removed from the address
// bar (history, bookmarks, screen shares) and kept for this tab's session only.
import { describe, expect, test } from 'vitest';
import { takeToken } from './web.ts';

function tab(url: string) {
  const u = new URL(url);
  const store = new Map<string, string>();
  const replaced: string[] = [];
  return {
    location: { search: u.search, pathname: u.pathname, hash: u.hash },
    storage: {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    },
    history: {
      replaceState: (_d: unknown, _t: string, to?: string | URL | null) => void replaced.push(String(to)),
    },
    replaced,
  };
}

describe('the web token', () => {
  test('leaves the address bar after load and stays for the session', () => {
    const t = tab('http://127.0.0.1:5000/?token=abc123&x=1#/run/4');
    expect(takeToken(t.location, t.storage, t.history)).toBe('abc123');
    expect(t.replaced).toEqual(['/?x=1#/run/4']);
    // A reload (the address bar no longer holds it) finds it in this tab's session.
    const again = { ...t, location: { search: '?x=1', pathname: '/', hash: '#/run/4' } };
    expect(takeToken(again.location, t.storage, t.history)).toBe('abc123');
    expect(t.replaced).toHaveLength(1);
  });

  test('without a token anywhere: empty (the calls then say how to open the page)', () => {
    const t = tab('http://127.0.0.1:5000/');
    expect(takeToken(t.location, t.storage, t.history)).toBe('');
    expect(t.replaced).toEqual([]);
  });
});
