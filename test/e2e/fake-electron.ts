// A stand-in for the `electron` module, so the built main process (out/main/index.js) and its
// utility process (out/main/worker.js) can be exercised under plain Node, where the Electron
// binary is not available. It records what main does and runs the "utility process" in this
// same process, joined by a structured-clone message channel like the real parentPort.
import { EventEmitter } from 'node:events';

type Handler = (...args: unknown[]) => unknown;

export const fake = {
  ipcHandlers: new Map<string, Handler>(),
  protocolHandlers: new Map<string, (req: Request) => Promise<Response> | Response>(),
  privilegedSchemes: [] as unknown[],
  windows: [] as FakeBrowserWindow[],
  appEvents: new EventEmitter(),
  forks: [] as string[],
  permissionRequestHandler: null as Handler | null,
  beforeRequestFilter: null as unknown,
  sent: [] as { channel: string; args: unknown[] }[],
  dialogs: [] as unknown[][],
  opened: [] as string[],
};

export class FakeWebContents extends EventEmitter {
  url = '';
  mainFrame = { url: '', parent: null };
  windowOpenHandler: Handler | null = null;
  setWindowOpenHandler(h: Handler): void {
    this.windowOpenHandler = h;
  }
  getURL(): string {
    return this.url;
  }
  send(channel: string, ...args: unknown[]): void {
    fake.sent.push({ channel, args });
  }
}

export class FakeBrowserWindow extends EventEmitter {
  static getAllWindows(): FakeBrowserWindow[] {
    return fake.windows;
  }
  static fromWebContents(wc: unknown): FakeBrowserWindow | null {
    return fake.windows.find((w) => w.webContents === wc) ?? null;
  }
  options: unknown;
  webContents = new FakeWebContents();
  loadedUrl = '';
  constructor(options: unknown) {
    super();
    this.options = options;
    fake.windows.push(this);
    fake.appEvents.emit('web-contents-created', {}, this.webContents);
  }
  async loadURL(url: string): Promise<void> {
    this.loadedUrl = url;
    this.webContents.url = url;
    this.webContents.mainFrame.url = url;
  }
  isDestroyed(): boolean {
    return false;
  }
  isMinimized(): boolean {
    return false;
  }
  show(): void {}
  focus(): void {}
  restore(): void {}
}

export const BrowserWindow = FakeBrowserWindow;

export const app = {
  requestSingleInstanceLock: (): boolean => true,
  whenReady: (): Promise<void> => Promise.resolve(),
  on(event: string, listener: Handler): void {
    fake.appEvents.on(event, listener);
  },
  quit(): void {},
  exit(): void {},
};

export const ipcMain = {
  handle(channel: string, handler: Handler): void {
    fake.ipcHandlers.set(channel, handler);
  },
};

export const protocol = {
  registerSchemesAsPrivileged(schemes: unknown[]): void {
    fake.privilegedSchemes.push(...schemes);
  },
  handle(scheme: string, handler: (req: Request) => Promise<Response>): void {
    fake.protocolHandlers.set(scheme, handler);
  },
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler(h: Handler): void {
      fake.permissionRequestHandler = h;
    },
    setPermissionCheckHandler(): void {},
    webRequest: {
      onBeforeRequest(filter: unknown): void {
        fake.beforeRequestFilter = filter;
      },
      onHeadersReceived(): void {},
    },
  },
};

export const shell = {
  openExternal: async (url: string): Promise<void> => {
    fake.opened.push(url);
  },
};

export const dialog = {
  async showOpenDialog(...args: unknown[]): Promise<{ canceled: boolean; filePaths: string[] }> {
    fake.dialogs.push(args);
    return { canceled: false, filePaths: ['/picked/cifar-10-binary.tar.gz'] };
  },
};

class FakeParentPort extends EventEmitter {
  child: FakeUtilityProcess;
  constructor(child: FakeUtilityProcess) {
    super();
    this.child = child;
  }
  postMessage(message: unknown): void {
    const copy = structuredClone(message);
    setImmediate(() => this.child.emit('message', copy));
  }
}

class FakeUtilityProcess extends EventEmitter {
  port = new FakeParentPort(this);
  postMessage(message: unknown): void {
    const copy = structuredClone(message);
    setImmediate(() => this.port.emit('message', { data: copy }));
  }
  kill(): boolean {
    return true;
  }
}

export const utilityProcess = {
  fork(modulePath: string): FakeUtilityProcess {
    fake.forks.push(modulePath);
    const child = new FakeUtilityProcess();
    (process as unknown as { parentPort: FakeParentPort }).parentPort = child.port;
    void import(modulePath);
    return child;
  },
};

export default { app, BrowserWindow, dialog, ipcMain, protocol, session, shell, utilityProcess };
