#!/usr/bin/env node
// `npm start`: builds the app if needed, then opens the Electron window. Where Electron
// cannot start (no display, or its binary was never downloaded) it says why in one line and
// serves the same UI to a browser through the web shell instead.
//   npm start -- --web          always use the web shell
//   npm start -- --port 8080    web shell port (default: any free port)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `Decomposer needs Node.js 24 or newer; this is Node ${process.version}. Install Node 24 LTS and run the command again.`,
  );
  process.exit(2);
}

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const forceWeb = args.includes('--web') || process.env.DECOMPOSER_WEB === '1';
const webArgs = args.filter((a) => a !== '--web');

function built() {
  return [
    'out/main/index.js',
    'out/main/worker.js',
    'out/preload/index.cjs',
    'out/renderer/index.html',
  ].every((f) => existsSync(path.join(root, f)));
}

if (!built()) {
  console.log('Building the app (first start)...');
  const cli = path.join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  const r = spawnSync(process.execPath, [cli, 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0 || !built()) {
    console.error(
      'The build failed (see above). Fix the error, or run `npm install` again, then `npm start`.',
    );
    process.exit(1);
  }
}

/**
 * The Electron executable, or the reason it cannot be used. Electron's npm package fetches
 * its binary at first run, not at install: where there is a display to show a window and
 * the binary is missing, this is that first run, so fetch it (offline, that fails quickly
 * and we fall back to the web shell).
 */
function findElectron() {
  const dir = path.join(root, 'node_modules', 'electron');
  if (!existsSync(path.join(dir, 'package.json'))) return { reason: 'the electron package is not installed' };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { reason: 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)' };
  }
  const pathFile = path.join(dir, 'path.txt');
  const distDir = process.env.ELECTRON_OVERRIDE_DIST_PATH || path.join(dir, 'dist');
  const exePath = () => {
    const exe = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
    return exe && existsSync(path.join(distDir, exe)) ? path.join(distDir, exe) : null;
  };
  if (!exePath()) {
    console.log('Downloading the Electron binary (first start)...');
    const r = spawnSync(process.execPath, [path.join(dir, 'install.js')], {
      cwd: dir,
      stdio: ['ignore', 'inherit', 'pipe'],
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (r.status !== 0 || !exePath()) {
      const why = (r.stderr || '').trim().split('\n').pop() || `exit code ${r.status}`;
      return {
        reason: `the Electron binary could not be downloaded (${why}); \`npm start\` tries again next time`,
      };
    }
  }
  return { path: exePath() };
}

async function serveWeb(reason) {
  if (reason) console.log(`Electron cannot start here: ${reason}; serving the app to your browser instead.`);
  const { serveMain } = await import('../src/web/server.ts');
  const { describeError } = await import('../src/core/common/errors.ts');
  try {
    process.exitCode = await serveMain(webArgs);
  } catch (e) {
    console.error(describeError(e));
    process.exitCode = 1;
  }
}

const electron = forceWeb ? { reason: '' } : findElectron();
if (!electron.path) {
  await serveWeb(electron.reason);
} else {
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  const child = spawn(electron.path, ['.'], { cwd: root, stdio: 'inherit', env });
  let started = false;
  child.once('spawn', () => (started = true));
  child.once('error', (e) => {
    if (!started) void serveWeb(`the Electron binary failed to run (${e.message})`);
  });
  const startedAt = Date.now();
  child.once('exit', (code, signal) => {
    // Electron that dies at once (missing system libraries, no GPU/display access) falls back too.
    if (code !== 0 && code !== null && Date.now() - startedAt < 5000) {
      void serveWeb(`Electron exited at once with code ${code}`);
      return;
    }
    process.exitCode = code ?? (signal ? 1 : 0);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
}
