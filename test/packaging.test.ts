// The packaging configuration (electron-builder.config.ts): the fuses a shipped app needs, and
// a configuration electron-builder accepts. Checked without the Electron binary or a build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import config, { FUSES } from '../electron-builder.config.ts';

const require = createRequire(import.meta.url);

test('the shipped app has its fuses set: no RunAsNode, NODE_OPTIONS or --inspect; cookies encrypted; app only from an integrity-checked ASAR', () => {
  assert.equal(config.electronFuses, FUSES);
  assert.deepEqual(
    {
      runAsNode: FUSES.runAsNode,
      enableNodeOptionsEnvironmentVariable: FUSES.enableNodeOptionsEnvironmentVariable,
      enableNodeCliInspectArguments: FUSES.enableNodeCliInspectArguments,
      enableCookieEncryption: FUSES.enableCookieEncryption,
      enableEmbeddedAsarIntegrityValidation: FUSES.enableEmbeddedAsarIntegrityValidation,
      onlyLoadAppFromAsar: FUSES.onlyLoadAppFromAsar,
      grantFileProtocolExtraPrivileges: FUSES.grantFileProtocolExtraPrivileges,
    },
    {
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableCookieEncryption: true,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    },
  );
  assert.equal(config.asar, true, 'integrity checks and app-only-from-ASAR need the ASAR');
  assert.deepEqual(
    [config.linux?.target, config.win?.target, config.mac?.target],
    [['AppImage', 'deb'], ['nsis'], ['dmg']],
  );
});

test('electron-builder accepts the configuration (its own schema)', async () => {
  const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
    validateConfiguration: (c: unknown, log: unknown) => Promise<void>;
  };
  const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
  await validateConfiguration(config, new DebugLogger(false));
  // And it would refuse a misspelt fuse.
  await assert.rejects(
    validateConfiguration(
      { ...config, electronFuses: { ...FUSES, runAsNod: false } },
      new DebugLogger(false),
    ),
  );
});

test('shell.openExternal gets only https links to the allowed hosts', async () => {
  const { allowedExternal, EXTERNAL_HOSTS } = await import('../src/main/external.ts');
  assert.ok(EXTERNAL_HOSTS.includes('www.cs.toronto.edu'));
  assert.equal(
    allowedExternal('https://www.cs.toronto.edu/~kriz/cifar.html')?.href,
    'https://www.cs.toronto.edu/~kriz/cifar.html',
  );
  for (const bad of [
    'http://www.cs.toronto.edu/',
    'https://evil.example/',
    'https://www.cs.toronto.edu.evil.example/',
    'https://user@github.com/',
    'https://github.com:8443/',
    'file:///etc/passwd',
    'smb://host/share',
    'javascript:alert(1)',
    'not a url',
  ])
    assert.equal(allowedExternal(bad), null, bad);
});
