// The web shell in a process of its own (a stub page stands in for the built renderer), for
// tests of what must not take the server down: it prints {"port", "token"} once it listens,
// and stops on SIGTERM. Usage: node web-child.ts HOME
import { createCoreApi } from '../../src/core/node/api.ts';
import { stubShell } from './stub-shell.ts';

const home = process.argv[2]!;
const api = createCoreApi({ home });
const shell = await stubShell(api);
process.stdout.write(`${JSON.stringify({ port: shell.port, token: shell.token })}\n`);
process.once('SIGTERM', () => {
  void shell
    .close()
    .then(() => api.close())
    .then(() => process.exit(0));
});
