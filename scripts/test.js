#!/usr/bin/env node
// `npm test`: every check CI relies on, in one command: format, lint (with the import
// boundaries), type checks (Node side and Svelte), the app build, then all tests (unit,
// kernels, data, training, and the browser tests against the built renderer). The renderer's
// component tests (vitest, jsdom) run before the node:test run, which stays last for CI.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `npm test needs Node.js 24 or newer; this is ${process.version}. Install Node 24 LTS and run it again.`,
  );
  process.exit(2);
}

const root = path.resolve(import.meta.dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const steps = [
  ['format', bin('prettier'), ['--check', '--log-level', 'warn', '.']],
  ['lint', bin('eslint'), ['--max-warnings', '0', '.']],
  ['types (node)', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']],
  [
    'types (svelte)',
    bin('svelte-check'),
    ['--tsconfig', './tsconfig.web.json', '--fail-on-warnings', '--output', 'human'],
  ],
  ['build', bin('electron-vite'), ['build', '--logLevel', 'warn']],
  ['ui tests', bin('vitest'), ['run']],
  [
    'tests',
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-reporter=spec', 'test/**/*.test.ts'],
  ],
];
const only = process.argv.slice(2);
const failed = [];
for (const [name, cmd, args] of steps) {
  if (only.length && !only.includes(name.split(' ')[0])) continue;
  console.log(`\n▶ ${name}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, FORCE_COLOR: '0' } });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    failed.push(name);
    console.log(`✗ ${name} failed (${secs}s)`);
  } else if (name !== 'tests') console.log(`✓ ${name} (${secs}s)`);
}
if (failed.length) {
  console.error(`\nnpm test: ${failed.length} step(s) failed: ${failed.join(', ')}`);
  process.exit(1);
}
