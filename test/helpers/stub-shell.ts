// The web shell over a core API with a stub page standing in for the built renderer: for the
// tests of the bridge itself (its checks, its limits), which need no user interface.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CoreApi } from '../../src/core/node/api.ts';
import { startWebShell, type WebShell } from '../../src/web/server.ts';
import { tempDir } from './temp.ts';

/** The web shell of `api` on a free loopback port, serving a one-line stub page. */
export function stubShell(api: CoreApi): Promise<WebShell> {
  const rendererDir = tempDir('stub-page');
  writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>stub</title>');
  return startWebShell({ port: 0, rendererDir, api });
}
