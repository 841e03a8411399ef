// Vitest runs the renderer's component and store tests in jsdom (npm test: "ui tests").
// The Node-side tests run under node:test (test/**/*.test.ts).
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  test: {
    environment: 'jsdom',
    include: ['src/renderer/src/**/*.test.ts'],
    pool: 'threads',
    maxWorkers: 1,
  },
});
