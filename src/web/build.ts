// The app's build (out/: the Electron parts and the renderer the web shell serves), made on
// first use from a checkout, as `npm start` does: `decomposer serve` builds it rather than
// asking for `npm run build`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/common/errors.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Where the app is built: DECOMPOSER_BUILD_DIR, else out/ of this checkout. */
export function buildDir(env = process.env): string {
  return path.resolve(env.DECOMPOSER_BUILD_DIR || path.join(ROOT, 'out'));
}

/** The built renderer in `outDir`, building the app there first when it is missing. */
export function ensureUiBuilt(outDir: string, say: (line: string) => void): string {
  const renderer = path.join(outDir, 'renderer');
  const page = path.join(renderer, 'index.html');
  if (existsSync(page)) return renderer;
  const cli = path.join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  if (!existsSync(cli))
    throw new UserError(
      `The app's user interface is not built (no ${page}), and its build tool is not installed.`,
      'Run `npm install` in the Decomposer folder, then start it again.',
      'not-built',
    );
  say(`Building the app's user interface into ${outDir} (first start)…`);
  // The build's own lines go to stderr: stdout keeps only what serve prints.
  const r = spawnSync(process.execPath, [cli, 'build', '--outDir', outDir], {
    cwd: ROOT,
    stdio: ['ignore', 2, 2],
  });
  if (r.status !== 0 || !existsSync(page))
    throw new UserError(
      `The app's user interface could not be built (electron-vite build ${r.status === null ? 'was stopped' : `exited with ${r.status}`}; see above).`,
      'Fix the error shown, or run `npm install` again, then start it again.',
      'not-built',
    );
  return renderer;
}
