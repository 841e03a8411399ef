// Lint rules, including the import boundaries of DESIGN's "one core, three shells":
// the core never imports electron, a shell or the UI; common code never touches Node.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

const shells = ['**/main/**', '**/preload/**', '**/renderer/**', '**/cli/**'];

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
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'electron',
              message: 'The core never imports electron (DESIGN: one core, three shells).',
            },
          ],
          patterns: [
            { group: shells, message: 'Imports point inwards: the core never imports a shell or the UI.' },
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
);
