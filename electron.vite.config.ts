// Builds the three Electron parts into out/: main (+ the core's utility process), the
// sandboxed preload (CommonJS, everything bundled but electron), and the Svelte renderer.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { WORKER_ENTRIES } from './src/core/node/engine/worker-script.ts';

const root = import.meta.dirname;
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};
// Native and heavy packages stay in node_modules, loaded at run time by the core process.
const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  'onnxruntime-node',
  'sharp',
  'better-sqlite3',
];

export default defineConfig({
  main: {
    build: {
      outDir: resolve(root, 'out/main'),
      externalizeDeps: { include: external },
      rolldownOptions: {
        input: {
          index: resolve(root, 'src/main/index.ts'),
          worker: resolve(root, 'src/main/worker.ts'),
          // The engine's worker threads, started by file (src/core/node/engine/worker-script.ts).
          [WORKER_ENTRIES.tfjs]: resolve(root, 'src/core/node/engine/tfjs/worker.ts'),
          [WORKER_ENTRIES.onnx]: resolve(root, 'src/core/node/engine/onnx-train/worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: resolve(root, 'out/preload'),
      // Sandboxed preloads cannot load modules: bundle everything except electron, as CommonJS.
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: resolve(root, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src/renderer'),
    plugins: [svelte()],
    build: {
      outDir: resolve(root, 'out/renderer'),
      rolldownOptions: { input: { index: resolve(root, 'src/renderer/index.html') } },
    },
  },
});
