// Lint rules, including the import boundaries of DESIGN's "one core, three shells":
// the core never imports electron, a shell or the UI; common code never touches Node.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

const shells = ['**/main/**', '**/preload/**', '**/renderer/**', '**/cli/**', '**/web/**', '**/app-shell/**'];

const electron = {
  name: 'electron',
  message: 'The core never imports electron (DESIGN: one core, three shells).',
};
const inwards = {
  group: shells,
  message: 'Imports point inwards: the core never imports a shell or the UI.',
};

// What a floor of core/node may not import: the floors above it.
const above = {
  api: {
    group: ['**/node/api.ts', '../api.ts', './api.ts', '**/app/**'],
    message: 'The API and its handlers are the top floor: nothing in the core imports them.',
  },
  jobs: {
    group: ['**/jobs/**'],
    message: 'jobs/ is the job runner and the job kinds: only the app starts jobs.',
  },
  views: {
    group: ['**/node/views.ts', '../views.ts', './views.ts'],
    message: 'views.ts shapes results for the app, the jobs and the CLI: what it shapes never imports it.',
  },
  workflows: {
    group: ['**/workflows/**'],
    message: 'workflows/ is what the CLI and the app both run: what it calls never imports it.',
  },
  bench: {
    group: ['**/bench/**'],
    message:
      'bench/ stands beside workflows/: its figures call the method and the engines, which never import it (nor does workflows/).',
  },
  measure: {
    group: ['**/measure/**'],
    message: 'measure/ records runs in the store: the store never imports it.',
  },
  inference: {
    group: ['**/inference/**'],
    message:
      'inference/ stands beside engine/ on graph/: engine/ and what stands below never import it (put what both need in graph/).',
  },
  engine: {
    group: ['**/engine/**'],
    message:
      'engine/ stands beside inference/ on graph/: inference/ and what stands below never import it (put what both need in graph/).',
  },
  graph: {
    group: ['**/graph/**'],
    message:
      'graph/ (the model plan, ONNX, the runtimes) stands above models/, data/ and the store: they never import it.',
  },
};

// The paper's method and its engines: free of the run store, of measuring and of the layers
// that orchestrate them (measure/, workflows/, jobs/, the API), so each piece of the method can
// be read, tested and benchmarked on its own.
const method = {
  group: ['**/store/**', '**/measure/**', '**/workflows/**', '**/jobs/**', '**/node/api.ts', '../api.ts'],
  message:
    'The method files do not record, measure or orchestrate: workflows/ and measure/ call them, not the other way round.',
};

/** One floor of core/node (folders or files there) and the imports it may not make. */
function floor(places, forbidden) {
  return {
    files: places.map((p) => (p.endsWith('.ts') ? `src/core/node/${p}` : `src/core/node/${p}/**`)),
    rules: { 'no-restricted-imports': ['error', { paths: [electron], patterns: [inwards, ...forbidden] }] },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/', 'out/', 'dist/', 'test-results/', '.cache/', 'scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser }, globals: { ...globals.browser } },
  },
  {
    files: ['src/core/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [electron], patterns: [inwards] }],
    },
  },
  // The floors of core/node, each folder importing only what stands below it (README, Layout):
  // the API and app/ on top, then jobs/, views.ts, workflows/ and bench/ side by side (what the
  // shells run), the paper's method (measure/, decompose/, reuse/, wizard/, train/), the two
  // engines side by side (inference/, engine/), graph/ (the model plan, ONNX and the runtimes)
  // under both, and the ground (models/, data/, store/, energy/, fs/). Each folder has one entry
  // (a later entry would replace, not add to, an earlier one's list): it lists every floor above it.
  floor(['jobs'], [above.api]),
  floor(['views.ts'], [above.api, above.jobs]),
  floor(['workflows', 'predict.ts'], [above.api, above.jobs, above.views, above.bench]),
  floor(['bench'], [above.api, above.jobs, above.views, above.workflows]),
  floor(['measure'], [above.api, above.jobs, above.views, above.workflows, above.bench]),
  floor(['decompose', 'reuse', 'wizard', 'train'], [method, above.views, above.bench]),
  floor(['inference'], [method, above.views, above.bench, above.engine]),
  floor(['engine'], [method, above.views, above.bench, above.inference]),
  floor(['graph'], [method, above.views, above.bench, above.inference, above.engine]),
  floor(
    ['models', 'data', 'energy', 'fs', 'paths.ts', 'demo.ts'],
    [method, above.views, above.bench, above.inference, above.engine, above.graph],
  ),
  floor(
    ['store'],
    [
      above.api,
      above.jobs,
      above.views,
      above.workflows,
      above.bench,
      above.measure,
      above.inference,
      above.engine,
      above.graph,
    ],
  ),
  {
    files: ['src/core/common/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The core never imports electron.' }],
          patterns: [
            {
              group: ['node:*', '**/core/node/**', '../node/**'],
              message: 'common/ runs everywhere: no Node APIs.',
            },
            { group: shells, message: 'Imports point inwards.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer talks to the typed API only.' }],
          patterns: [
            {
              group: ['node:*', '**/core/node/**', '**/main/**', '**/cli/**'],
              message: 'The renderer uses core/common and the typed API only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'electron', message: 'The CLI is a Node shell.' }] },
      ],
    },
  },
  {
    // A command is found through the registry (commands/index.ts) and shares code through the
    // CLI's modules (command, options, models, training, scenarios, output), never by
    // importing another command or main.ts.
    files: ['src/cli/commands/**'],
    ignores: ['src/cli/commands/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The CLI is a Node shell.' }],
          patterns: [
            {
              group: ['./*', '../main.ts', '../main'],
              message: 'A command imports no other command nor main.ts: share code through src/cli/*.ts.',
            },
          ],
        },
      ],
    },
  },
);
