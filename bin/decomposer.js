#!/usr/bin/env node
// The `decomposer` command. The CLI is TypeScript run by Node's type stripping (Node 24+).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `decomposer needs Node.js 24 or newer; this is Node ${process.version}. ` +
      'Install Node 24 LTS (https://nodejs.org) and run the command again.',
  );
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
