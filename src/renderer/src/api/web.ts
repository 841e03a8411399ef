// The typed API over the web shell: POST /api/<method> with the token the page was opened with,
// and progress as Server-Sent Events from /api/events.
import { API_METHODS, fromWireError, isProgressEvent } from '../../../core/common/api.ts';
import type {
  ApiMethod,
  DecomposerApi,
  ProgressEvent,
  Unsubscribe,
  WireResult,
} from '../../../core/common/api.ts';
import { UserError } from '../../../core/common/errors.ts';

const TOKEN_HEADER = 'x-decomposer-token';

const TOKEN_KEY = 'decomposer-token';

/**
 * The access token: from the URL the server printed, which then leaves the address bar (so it
 * is not kept in history or bookmarks, nor shown on a shared screen), kept in this tab's
 * session storage for reloads; else from that session storage.
 */
export function takeToken(
  location: Pick<Location, 'search' | 'pathname' | 'hash'>,
  storage: Pick<Storage, 'getItem' | 'setItem'> | null,
  history: Pick<History, 'replaceState'> | null,
): string {
  const params = new URLSearchParams(location.search);
  const given = params.get('token');
  if (!given) return storage?.getItem(TOKEN_KEY) ?? '';
  storage?.setItem(TOKEN_KEY, given);
  params.delete('token');
  const rest = params.toString();
  history?.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  return given;
}

export function createWebApi(
  location: Pick<Location, 'search' | 'origin' | 'pathname' | 'hash'>,
  storage: Pick<Storage, 'getItem' | 'setItem'> | null = globalThis.sessionStorage ?? null,
  history: Pick<History, 'replaceState'> | null = globalThis.history ?? null,
): DecomposerApi {
  const token = takeToken(location, storage, history);

  async function call<T>(method: ApiMethod, args: unknown[] = []): Promise<T> {
    if (!token) {
      throw new UserError(
        'This page was opened without its access token.',
        'Open the full URL that `decomposer serve` or `npm start` printed.',
        'no-token',
      );
    }
    let response: Response;
    try {
      response = await fetch(`${location.origin}/api/${method}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', [TOKEN_HEADER]: token },
        body: JSON.stringify({ args }),
        cache: 'no-store',
      });
    } catch {
      throw new UserError(
        'The Decomposer server is not reachable.',
        'Check that `decomposer serve` is still running, then reload.',
        'offline',
      );
    }
    let result: WireResult<T>;
    try {
      result = (await response.json()) as WireResult<T>;
    } catch {
      throw new Error(`The server answered ${response.status} without a readable body.`);
    }
    if (result.ok) return result.value;
    throw fromWireError(result.error);
  }

  return {
    ...(Object.fromEntries(
      (Object.keys(API_METHODS) as ApiMethod[]).map((m) => [m, (...args: unknown[]) => call(m, args)]),
    ) as Omit<DecomposerApi, 'onProgress'>),
    onProgress(listener: (event: ProgressEvent) => void): Unsubscribe {
      const source = new EventSource(`${location.origin}/api/events?token=${encodeURIComponent(token)}`);
      const handler = (e: MessageEvent<string>): void => {
        try {
          const event: unknown = JSON.parse(e.data);
          if (isProgressEvent(event)) listener(event);
        } catch {
          // Ignore a malformed event rather than break the page.
        }
      };
      source.addEventListener('progress', handler);
      return () => {
        source.removeEventListener('progress', handler);
        source.close();
      };
    },
  };
}
