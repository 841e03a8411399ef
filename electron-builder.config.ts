// How the desktop app ships (`npm run dist`, electron-builder): Linux AppImage and deb,
// Windows NSIS installer, macOS dmg, the app in an ASAR archive with Electron's fuses set.
// The fuses are flipped in the packaged Electron binary itself, so a shipped app cannot be
// turned back into a general-purpose runtime: no ELECTRON_RUN_AS_NODE (the core runs in a
// utilityProcess, which does not need it), no NODE_OPTIONS, no --inspect, app code only from
// the integrity-checked app.asar. Nothing here runs during `npm install` or `npm test`; only
// packaging downloads the Electron binaries it wraps.
import type { Configuration } from 'electron-builder';

export const FUSES = {
  runAsNode: false,
  enableCookieEncryption: true,
  enableNodeOptionsEnvironmentVariable: false,
  enableNodeCliInspectArguments: false,
  enableEmbeddedAsarIntegrityValidation: true,
  onlyLoadAppFromAsar: true,
  loadBrowserProcessSpecificV8Snapshot: false,
  // The app loads from app://, never file://.
  grantFileProtocolExtraPrivileges: false,
} satisfies NonNullable<Configuration['electronFuses']>;

const config: Configuration = {
  appId: 'org.decomposer.app',
  productName: 'Decomposer',
  directories: { output: 'dist', buildResources: 'build' },
  // The built app (electron-vite's out/); production dependencies are added by electron-builder.
  files: ['out/**/*', 'package.json', '!**/*.map'],
  asar: true,
  // Native addons and the files they load beside them cannot be read from inside an archive.
  asarUnpack: [
    '**/*.node',
    'node_modules/onnxruntime-node/bin/**',
    'node_modules/sharp/**',
    'node_modules/@img/**',
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm',
  ],
  electronFuses: FUSES,
  linux: { target: ['AppImage', 'deb'], category: 'Science' },
  win: { target: ['nsis'] },
  mac: { target: ['dmg'], category: 'public.app-category.education', hardenedRuntime: true },
};

export default config;
