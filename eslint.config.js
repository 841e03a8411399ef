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
  {
    // The paper's method and its engines: free of the run store, of measuring and of the
    // layers that orchestrate them (measure/, workflows/, jobs/, the API), so each piece of
    // the method can be read, tested and benchmarked on its own.
    files: [
      'src/core/node/decompose/**',
      'src/core/node/reuse/**',
      'src/core/node/wizard/**',
      'src/core/node/train/**',
      'src/core/node/inference/**',
      'src/core/node/models/**',
      'src/core/node/data/**',
      'src/core/node/engine/**',
      'src/core/node/energy/**',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [electron],
          patterns: [
            inwards,
            {
              group: [
                '**/store/**',
                '**/measure/**',
                '**/workflows/**',
                '**/jobs/**',
                '**/node/api.ts',
                '../api.ts',
              ],
              message:
                'The method files do not record, measure or orchestrate: workflows/ and measure/ call them, not the other way round.',
            },
          ],
        },
      ],
    },
  },
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
