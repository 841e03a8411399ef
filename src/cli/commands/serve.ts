// decomposer serve: the web shell (the same UI as the desktop app, in a browser).
import { COMMON_ARGS, type Command } from '../command.ts';
import { PORT } from '../../core/common/bounds.ts';
import { v } from '../../core/common/schema.ts';
import { BACKEND_CHOICE } from '../../core/common/system.ts';

const SERVE_ARGS = v.object({
  ...COMMON_ARGS,
  port: v.optional(PORT.text, 0),
  backend: v.optional(BACKEND_CHOICE),
  DECOMPOSER_BACKEND: v.optional(BACKEND_CHOICE),
});

export const serveCommand: Command<v.InferOutput<typeof SERVE_ARGS>> = {
  name: 'serve',
  summary: 'serve the app to a browser on 127.0.0.1 (token-protected URL)',
  usage: `Usage: decomposer serve [--port N] [--backend NAME]

Serves the desktop app's UI to a browser on this machine, bound to 127.0.0.1 and guarded
by a random token in the URL it prints. Runs until Ctrl-C.

  --port N            port (default: any free port)
  --backend NAME      auto (default) | onnxruntime | tensorflow | wasm | cpu`,
  options: { port: { type: 'string' }, backend: { type: 'string' } },
  args: SERVE_ARGS,
  async run(o) {
    const { serveWeb } = await import('../../web/server.ts');
    const backend = o.backend ?? o.DECOMPOSER_BACKEND ?? 'auto';
    return serveWeb({ port: o.port, backend: backend === 'auto' ? null : backend });
  },
};
