// Where a worker thread's script is. Run from the sources (the CLI, the web shell, the tests)
// it is the .ts file beside the module that starts it. In the built app the module is bundled
// into out/main (electron.vite.config.ts), where no .ts file exists: the build emits each
// worker as an entry of its own, named here, beside the bundle (or one folder up from a
// shared chunk).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../common/errors.ts';

/** The build's entry names for the engine's worker scripts (electron.vite.config.ts uses them). */
export const WORKER_ENTRIES = {
  tfjs: 'engine-worker',
  onnx: 'onnx-train-worker',
} as const;

export function workerScript(source: URL, entry: string, caller: string): URL {
  if (existsSync(fileURLToPath(source))) return source;
  for (const rel of [`./${entry}.js`, `../${entry}.js`]) {
    const built = new URL(rel, caller);
    if (existsSync(fileURLToPath(built))) return built;
  }
  throw new UserError(
    `The engine's worker script is missing: neither ${fileURLToPath(source)} nor ${entry}.js beside ${fileURLToPath(caller)}.`,
    'Reinstall Decomposer (or run `npm run build` again for a built app).',
    'install',
  );
}
