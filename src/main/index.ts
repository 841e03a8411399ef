// The Electron shell: one locked-down window showing the renderer, served from app://
// (never file://), and IPC handlers that validate who calls and with what, then forward
// the call to the core running in a utility process.
import { app, BrowserWindow, dialog, ipcMain, protocol, session, shell } from 'electron';
import type { IpcMainInvokeEvent, WebFrameMain } from 'electron';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { API_METHODS, checkCall } from '../core/common/api.ts';
import type { ApiMethod, WireResult } from '../core/common/api.ts';
import { appFile, CONTENT_SECURITY_POLICY as CSP, contentType } from '../app-shell/static.ts';
import { createCoreHost } from './core-host.ts';
import { allowedExternal } from './external.ts';

const SCHEME = 'app';
const HOST = 'decomposer';
const APP_ORIGIN = `${SCHEME}://${HOST}`;
const here = import.meta.dirname;
const RENDERER_DIR = path.resolve(here, '..', 'renderer');
const PRELOAD = path.resolve(here, '..', 'preload', 'index.cjs');
const WORKER = path.resolve(here, 'worker.js');

// Must run before `ready`: app:// behaves like an https origin (standard, secure).
protocol.registerSchemesAsPrivileged([
  { scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

const core = createCoreHost(WORKER);

async function serveApp(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.host !== HOST || request.method !== 'GET') return new Response('Not found', { status: 404 });
  const found = await appFile(await fsp.realpath(RENDERER_DIR), url.pathname);
  if (!('file' in found)) return new Response('Not found', { status: 404 });
  const body = await fsp.readFile(found.file);
  return new Response(new Uint8Array(body), {
    headers: {
      'Content-Type': contentType(found.file),
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
    },
  });
}

/** Only our own top-level page may call the API. */
function trustedSender(frame: WebFrameMain | null): boolean {
  if (!frame || frame.parent !== null) return false;
  try {
    // Not URL.origin: WHATWG gives custom schemes an opaque ("null") origin.
    const u = new URL(frame.url);
    return (
      u.protocol === `${SCHEME}:` &&
      u.host === HOST &&
      u.username === '' &&
      u.password === '' &&
      u.port === ''
    );
  } catch {
    return false;
  }
}

/** A native open dialog for a dataset archive or folder; null when the user cancels. */
async function pickPath(event: IpcMainInvokeEvent, kind: 'file' | 'folder'): Promise<WireResult> {
  try {
    const win = BrowserWindow.fromWebContents(event.sender);
    const options: Electron.OpenDialogOptions = {
      title: kind === 'folder' ? 'Choose a dataset folder' : 'Choose a dataset archive',
      properties: [kind === 'folder' ? 'openDirectory' : 'openFile'],
      ...(kind === 'file'
        ? { filters: [{ name: 'Dataset archives', extensions: ['gz', 'tgz', 'tar', 'zip', 'bin'] }] }
        : {}),
    };
    const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return { ok: true, value: r.canceled ? null : (r.filePaths[0] ?? null) };
  } catch (e) {
    return {
      ok: false,
      error: { message: `The file picker failed: ${(e as Error).message}. Type the path instead.` },
    };
  }
}

function registerIpc(): void {
  for (const method of Object.keys(API_METHODS) as ApiMethod[]) {
    ipcMain.handle(
      `decomposer:${method}`,
      async (event: IpcMainInvokeEvent, ...args: unknown[]): Promise<WireResult> => {
        if (!trustedSender(event.senderFrame)) {
          return {
            ok: false,
            error: { message: 'Refused: the caller is not the Decomposer page.', code: 'forbidden' },
          };
        }
        const problem = checkCall(method, args);
        if (problem) return { ok: false, error: { message: problem, code: 'bad-request' } };
        // The native picker belongs to the window, not to the core.
        if (method === 'pickPath') return pickPath(event, args[0] as 'file' | 'folder');
        return core.call(method, args);
      },
    );
  }
  core.onProgress((event) => {
    for (const win of BrowserWindow.getAllWindows()) {
      if (!win.isDestroyed() && trustedSender(win.webContents.mainFrame))
        win.webContents.send('decomposer:progress', event);
    }
  });
}

function lockDownSessions(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  // No remote content: nothing leaves the machine from the window.
  ses.webRequest.onBeforeRequest(
    { urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*', 'file:///*'] },
    (_details, callback) => callback({ cancel: true }),
  );
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    show: false,
    title: 'Decomposer',
    autoHideMenuBar: true,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

// Navigation and new windows are blocked everywhere; https links to the allowed hosts open in
// the user's browser (external.ts).
app.on('web-contents-created', (_event, contents) => {
  contents.setWindowOpenHandler(({ url }) => {
    const allowed = allowedExternal(url);
    if (allowed) void shell.openExternal(allowed.href);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event, url) => {
    if (url !== contents.getURL()) event.preventDefault();
  });
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    const win = BrowserWindow.getAllWindows()[0];
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.whenReady().then(
    () => {
      protocol.handle(SCHEME, serveApp);
      lockDownSessions();
      registerIpc();
      createWindow();
      app.on('activate', () => {
        if (BrowserWindow.getAllWindows().length === 0) createWindow();
      });
    },
    (e: unknown) => {
      console.error(`Decomposer could not start: ${e instanceof Error ? e.message : String(e)}`);
      app.exit(1);
    },
  );
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', () => core.stop());
}
