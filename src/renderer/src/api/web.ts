// The typed API over the web shell: POST /api/<method> with the token from the page URL,
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

export function createWebApi(location: Pick<Location, 'search' | 'origin'>): DecomposerApi {
  const token = new URLSearchParams(location.search).get('token') ?? '';

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
