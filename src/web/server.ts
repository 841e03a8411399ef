// The web shell: serves the built renderer and bridges the typed API to a browser over a
// token-protected loopback server (HTTP POST for calls, Server-Sent Events for progress).
// Uses node:http only. Everything that arrives is checked: the Host header (against DNS
// rebinding), the token, the Origin, the method name and its arguments.
import http from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp, realpathSync } from 'node:fs';
import path from 'node:path';
import { checkCall, toWireError } from '../core/common/api.ts';
import type { ApiMethod, BackendName, DecomposerApi, ProgressEvent, WireResult } from '../core/common/api.ts';
import { describeError, isUserError, UserError } from '../core/common/errors.ts';
import { PORT, parseBounded } from '../core/common/bounds.ts';
import { appFile, CONTENT_SECURITY_POLICY, contentType } from '../app-shell/static.ts';
import { buildDir, ensureUiBuilt } from './build.ts';

export interface WebShellOptions {
  /** Only loopback is allowed; default 127.0.0.1. */
  host?: '127.0.0.1';
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The built renderer (out/renderer by default). */
  rendererDir?: string;
  api: DecomposerApi;
}

export interface WebShell {
  /** The page to open, token included. */
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

export const TOKEN_HEADER = 'x-decomposer-token';
const TOKEN_COOKIE = 'decomposer-token';
const MAX_BODY = 1 << 20;
/**
 * Connections held at once. A browser opens at most six to one host (the event stream
 * included), so this leaves room for several pages and clients; past it, a new connection
 * pushes out the oldest one that is not being answered (a half-sent request, an idle
 * keep-alive), so a local process holding thousands of half-sent requests can neither use up
 * the shell's file descriptors nor keep a real request out.
 */
export const MAX_CONNECTIONS = 64;
/** A request's headers must all arrive within this (checked every second). */
const HEADERS_TIMEOUT_MS = 10_000;

/** out/renderer of this checkout (src/web → ../../out/renderer). */
export function defaultRendererDir(): string {
  return path.resolve(import.meta.dirname, '..', '..', 'out', 'renderer');
}

const BASE_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

function sameSecret(given: string | undefined | null, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: http.IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE) return v.join('=');
  }
  return undefined;
}

function sendJson(res: http.ServerResponse, status: number, body: WireResult): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...BASE_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, message: string, code: string): void {
  sendJson(res, status, { ok: false, error: { message, code } });
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) throw new UserError('Request body too large.', 'Send at most 1 MiB.', 'too-large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What the running shell's handlers share: the API, the token, the renderer and the open event streams. */
interface Shell {
  api: DecomposerApi;
  token: string;
  /** The built renderer's real path. */
  rendererRoot: string;
  streams: Set<http.ServerResponse>;
  /** The port it listens on (known once it listens). */
  port: number;
}

async function serveStatic(
  s: Shell,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
  queryToken: string | null,
): Promise<void> {
  const isPage = pathname === '/' || pathname === '/index.html';
  // The page needs the token in its URL; it then sets a same-site cookie so the page's
  // own scripts and styles load without the token in every URL.
  if (!sameSecret(queryToken, s.token) && !sameSecret(cookieToken(req), s.token)) {
    sendError(
      res,
      403,
      'Missing or wrong token. Open the URL the server printed, token included.',
      'forbidden',
    );
    return;
  }
  const found = await appFile(s.rendererRoot, pathname);
  if ('refused' in found) {
    if (found.refused === 'outside')
      sendError(res, 403, 'Path outside the app folder refused.', 'forbidden-path');
    else sendError(res, 404, 'Not found.', 'not-found');
    return;
  }
  const real = found.file;
  const body = await fsp.readFile(real);
  const headers: Record<string, string | string[]> = {
    ...BASE_HEADERS,
    'Content-Type': contentType(real),
    'Content-Length': String(body.length),
  };
  if (isPage || real.endsWith('.html')) {
    headers['Content-Security-Policy'] = CONTENT_SECURITY_POLICY;
    headers['Set-Cookie'] = `${TOKEN_COOKIE}=${s.token}; HttpOnly; SameSite=Strict; Path=/`;
  }
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function serveCall(
  s: Shell,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  method: string,
): Promise<void> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    sendError(res, 415, 'API calls are JSON: send Content-Type: application/json.', 'bad-content-type');
    return;
  }
  let text: string;
  try {
    text = await readBody(req);
  } catch (e) {
    if (isUserError(e) && e.code === 'too-large') {
      req.resume(); // discard the rest, then answer
      res.setHeader('Connection', 'close');
      sendError(res, 413, describeError(e), 'too-large');
      return;
    }
    throw e;
  }
  // The body is {"args": [...]} (empty: no arguments); anything else is refused, not guessed at.
  let args: unknown;
  try {
    const body: unknown = text === '' ? {} : JSON.parse(text);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new Error('it must be a JSON object, {"args": [...]}');
    args = 'args' in body ? (body as { args: unknown }).args : [];
    if (!Array.isArray(args)) throw new Error('its args must be an array');
  } catch (e) {
    sendError(res, 400, `Unreadable request body: ${describeError(e)}`, 'bad-request');
    return;
  }
  const problem = checkCall(method, args);
  if (problem) {
    sendError(res, 400, problem, 'bad-request');
    return;
  }
  try {
    const fn = s.api[method as ApiMethod] as (...a: unknown[]) => Promise<unknown>;
    const value = await fn.apply(s.api, args as unknown[]);
    sendJson(res, 200, { ok: true, value });
  } catch (e) {
    // An error the user can act on (a bad path, a bad setting) is not a server fault.
    sendJson(res, isUserError(e) ? 422 : 500, { ok: false, error: toWireError(e) });
  }
}

function serveEvents(s: Shell, req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, {
    ...BASE_HEADERS,
    'Content-Type': 'text/event-stream; charset=utf-8',
    Connection: 'keep-alive',
  });
  res.write(': connected\n\n');
  s.streams.add(res);
  const unsubscribe = s.api.onProgress((event: ProgressEvent) => {
    res.write(`event: progress\ndata: ${JSON.stringify(event)}\n\n`);
  });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  heartbeat.unref();
  const done = (): void => {
    clearInterval(heartbeat);
    unsubscribe();
    s.streams.delete(res);
  };
  req.on('close', done);
  res.on('close', done);
}

async function handle(s: Shell, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  // DNS rebinding: a page on another name that resolves to 127.0.0.1 must not reach us.
  if (![`127.0.0.1:${s.port}`, `localhost:${s.port}`].includes(req.headers.host ?? '')) {
    sendError(res, 421, 'Unexpected Host header.', 'bad-host');
    return;
  }
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const pathname = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));

  if (pathname === '/api' || pathname.startsWith('/api/')) {
    const given = (req.headers[TOKEN_HEADER] as string | undefined) ?? null;
    const isEvents = pathname === '/api/events';
    // EventSource cannot send headers: the event stream takes the token from the query.
    const presented = given ?? (isEvents ? query.get('token') : null);
    if (!sameSecret(presented, s.token)) {
      sendError(res, 403, 'Missing or wrong token.', 'forbidden');
      return;
    }
    const reqOrigin = req.headers.origin;
    if (
      reqOrigin !== undefined &&
      reqOrigin !== `http://127.0.0.1:${s.port}` &&
      reqOrigin !== `http://localhost:${s.port}`
    ) {
      sendError(res, 403, 'Cross-origin requests are refused.', 'forbidden-origin');
      return;
    }
    if (isEvents) {
      if (req.method !== 'GET') {
        sendError(res, 405, 'Use GET for /api/events.', 'bad-method');
        return;
      }
      serveEvents(s, req, res);
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      sendError(res, 405, 'API calls use POST.', 'bad-method');
      return;
    }
    await serveCall(s, req, res, pathname.slice('/api/'.length));
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    sendError(res, 405, 'Only GET and HEAD are served here.', 'bad-method');
    return;
  }
  await serveStatic(s, req, res, pathname, query.get('token'));
}

/**
 * Holds at most `max` connections: a connection past it closes the oldest one that has no
 * request being answered (a request half sent, or an idle keep-alive), or itself when every
 * one is busy answering (event streams of token holders).
 */
function capConnections(server: http.Server, max: number): void {
  // Open connections, oldest first, each with how many of its requests are being answered.
  const open = new Map<Socket, { answering: number }>();
  server.on('connection', (socket: Socket) => {
    if (open.size >= max) {
      let idle: Socket | undefined;
      for (const [c, st] of open)
        if (st.answering === 0) {
          idle = c;
          break;
        }
      if (!idle) {
        socket.destroy();
        return;
      }
      open.delete(idle);
      idle.destroy();
    }
    open.set(socket, { answering: 0 });
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const st = open.get(req.socket as Socket);
    if (!st) return;
    st.answering++;
    res.once('close', () => st.answering--);
  });
}

export async function startWebShell(opts: WebShellOptions): Promise<WebShell> {
  const host = opts.host ?? '127.0.0.1';
  if (host !== '127.0.0.1')
    throw new UserError(
      `The web shell only listens on 127.0.0.1, not ${String(host)}.`,
      'Leave the host unset.',
      'bad-host',
    );
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UserError(
      `Invalid port ${String(port)}.`,
      'Use a number from 0 (any free port) to 65535.',
      'bad-port',
    );
  }
  const api = opts.api;
  let rendererRoot = path.resolve(opts.rendererDir ?? defaultRendererDir());
  try {
    await fsp.access(path.join(rendererRoot, 'index.html'));
    rendererRoot = realpathSync(rendererRoot);
  } catch {
    throw new UserError(
      `The app's user interface is not built (no ${path.join(rendererRoot, 'index.html')}).`,
      'Run `npm run build` first.',
      'not-built',
    );
  }
  const s: Shell = {
    api,
    token: randomBytes(32).toString('base64url'),
    rendererRoot,
    streams: new Set<http.ServerResponse>(),
    port: 0,
  };
  const server = http.createServer(
    {
      headersTimeout: HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: 1_000,
      requestTimeout: 0, // event streams stay open
    },
    (req, res) => {
      handle(s, req, res).catch((e: unknown) => {
        if (!res.headersSent) sendError(res, 500, describeError(e), 'internal');
        else res.destroy();
      });
    },
  );
  capConnections(server, MAX_CONNECTIONS);

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE')
        reject(
          new UserError(
            `Port ${port} is already in use.`,
            'Choose another with --port, or 0 for any free port.',
            'port-in-use',
          ),
        );
      else reject(e);
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  s.port = typeof address === 'object' && address ? address.port : port;

  return {
    url: `http://127.0.0.1:${s.port}/?token=${s.token}`,
    token: s.token,
    port: s.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of s.streams) r.end();
        s.streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `decomposer serve [--port N] [--backend NAME]`: runs the web shell until interrupted. */
export async function serveMain(args: readonly string[]): Promise<number> {
  const { parseBackendName } = await import('../core/node/graph/backend.ts');
  let port = 0;
  let backend: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (v === undefined)
        throw new UserError(`${a} needs a value.`, 'See `decomposer serve --help`.', 'bad-args');
      return v;
    };
    if (a === '--port' || a.startsWith('--port=')) {
      const given = value();
      const n = parseBounded(given, PORT);
      if (n === null)
        throw new UserError(
          `--port must be ${PORT.rule}, not "${given}".`,
          'Use 0 for any free port.',
          'bad-args',
        );
      port = n;
    } else if (a === '--backend' || a.startsWith('--backend=')) backend = value();
    else if (a === '--help' || a === '-h') {
      console.log(
        'Usage: decomposer serve [--port N] [--backend auto|onnxruntime|tensorflow|wasm|cpu]\nServes the app to a browser on 127.0.0.1, protected by a token in the printed URL.',
      );
      return 0;
    } else
      throw new UserError(
        `Unknown option ${a}.`,
        'Usage: decomposer serve [--port N] [--backend NAME].',
        'bad-args',
      );
  }
  return serveWeb({ port, backend: parseBackendName(backend ?? process.env.DECOMPOSER_BACKEND) });
}

/** Runs the web shell on `port` (0: any free one) until interrupted; `backend` forces a training engine. */
export async function serveWeb(o: { port: number; backend: BackendName | null }): Promise<number> {
  const { createCoreApi } = await import('../core/node/api.ts');
  const { parseInferenceEngine } = await import('../core/node/inference/index.ts');
  const { port, backend: forced } = o;
  // A checkout without a build builds it, as `npm start` does.
  const rendererDir = ensureUiBuilt(buildDir(), (line) => console.error(line));
  const api = createCoreApi({
    backend: forced,
    inference: parseInferenceEngine(process.env.DECOMPOSER_INFERENCE),
    home: process.env.DECOMPOSER_HOME,
  });
  const shell = await startWebShell({ port, api, rendererDir });
  console.log(`Decomposer is served at ${shell.url}`);
  console.log('Open it in a browser on this machine. Press Ctrl+C to stop.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await shell.close();
  // Running jobs are cancelled; what they finished stays in the store.
  await api.close();
  return 0;
}
