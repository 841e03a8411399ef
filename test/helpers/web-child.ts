// The web shell in a process of its own (a stub page stands in for the built renderer), for
// tests of what must not take the server down: it prints {"port", "token"} once it listens,
// and stops on SIGTERM. Usage: node web-child.ts HOME
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCoreApi } from '../../src/core/node/api.ts';
import { startWebShell } from '../../src/web/server.ts';

const home = process.argv[2]!;
const rendererDir = mkdtempSync(path.join(os.tmpdir(), 'dec-web-page-'));
writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>stub</title>');
const api = createCoreApi({ home });
const shell = await startWebShell({ port: 0, rendererDir, api });
process.stdout.write(`${JSON.stringify({ port: shell.port, token: shell.token })}\n`);
process.once('SIGTERM', () => {
  void shell
    .close()
    .then(() => api.close())
    .then(() => process.exit(0));
});
