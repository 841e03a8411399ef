// decomposer serve: the web shell (the same UI as the desktop app, in a browser).
import type { Command } from '../command.ts';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve the app to a browser on 127.0.0.1 (token-protected URL)',
  usage: `Usage: decomposer serve [--port N] [--backend NAME]

Serves the desktop app's UI to a browser on this machine, bound to 127.0.0.1 and guarded
by a random token in the URL it prints. Runs until Ctrl-C.

  --port N            port (default: any free port)
  --backend NAME      auto (default) | onnxruntime | tensorflow | wasm | cpu`,
  options: { port: { type: 'string' }, backend: { type: 'string' } },
  async run(v) {
    const { serveMain } = await import('../../web/server.ts');
    const args: string[] = [];
    if (v.port !== undefined) args.push('--port', String(v.port));
    if (v.backend !== undefined) args.push('--backend', String(v.backend));
    return serveMain(args);
  },
};
