// What both shells that show the app serve (Electron's app:// protocol and the web shell):
// the built renderer's own files and nothing else, with one content security policy and one
// table of content types. Node only; neither the core nor the renderer imports it.
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** Our own files only, nothing inline, nothing remote. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
};

export function contentType(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file a URL path names inside `root` (`/` is index.html), or null when the path tries to
 * leave it (.., ., NUL, backslashes, bad escapes). Lexical only: see appFile for links.
 */
export function resolveStatic(root: string, rawPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  if (decoded.split('/').some((s) => s === '..' || s === '.')) return null;
  const rel = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
  const full = path.resolve(root, rel);
  if (full !== root && !full.startsWith(root + path.sep)) return null;
  return full;
}

/**
 * The real file a URL path names inside `realRoot` (the renderer folder, links resolved), or
 * why not: `outside` for a path or a link that leaves it, `missing` for nothing or a folder.
 */
export async function appFile(
  realRoot: string,
  rawPath: string,
): Promise<{ file: string } | { refused: 'outside' | 'missing' }> {
  const file = resolveStatic(realRoot, rawPath);
  if (!file) return { refused: 'outside' };
  let real: string;
  try {
    real = await fsp.realpath(file);
  } catch {
    return { refused: 'missing' };
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return { refused: 'outside' };
  try {
    return (await fsp.stat(real)).isFile() ? { file: real } : { refused: 'missing' };
  } catch {
    return { refused: 'missing' };
  }
}
